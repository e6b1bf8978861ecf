"""gRPC-web beside h2c: the same MlsApi and IdentityApi servicers over HTTP/1.1 with CORS, for browsers.

Browsers cannot speak gRPC's HTTP/2 trailers, so libxmtp's WebAssembly build (`@xmtp/browser-sdk`) sends
`POST /<service>/<method>` with `content-type: application/grpc-web+proto` and reads the status from a trailer
frame in the body. XMTP's local network puts a proxy in front of its node for this; devnode answers it itself.

Why not PyPI `sonora` (0.2.3, the one maintained-looking implementation; no release since 2023-08): its ASGI
CORS answers `Access-Control-Allow-Origin` with the request's Host (the preflight compares bytes to str and
falls back to the bare server IP), which no browser accepts for a page on another port; a stream sends its
headers only with the first message (an idle subscription never completes its fetch, and an empty one
raises); it buffers a request body without any size limit and lets a malformed protobuf escape as an
exception; and it pins `urllib3<2`. So the framing is here: one 5-byte header per frame (flag 0x80 = trailers,
0x01 = compressed), trailers as HTTP/1.1 header lines. HTTP/1.1 itself is aiohttp's.

The servicers run unchanged: `WebContext` gives them what they use of `grpc.aio.ServicerContext` (`abort`,
`send_initial_metadata`, `peer`). Handlers come from the generated `add_*Servicer_to_server` functions, so
serialisation and method tables are grpc's own.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import struct
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import quote

import grpc
from aiohttp import web
from google.protobuf.message import DecodeError
from xmtp_core.untrusted import clean

from devnode.limits import GRPC_MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

FRAME_HEADER = struct.Struct(">BI")
FLAG_COMPRESSED = 0x01
FLAG_TRAILERS = 0x80
DETAILS_LIMIT = 500  # characters of a grpc-message
# What a browser may send and read cross-origin. The request headers are the ones grpc-web clients (tonic-web,
# grpc-web, connect) and libxmtp add; anything else a preflight asks for is refused by its absence.
ALLOWED_REQUEST_HEADERS = (
    "content-type, x-grpc-web, x-user-agent, grpc-timeout, grpc-accept-encoding, x-app-version, "
    "x-libxmtp-version, x-client-version, authorization, accept"
)
EXPOSED_HEADERS = "grpc-status, grpc-message, grpc-status-details-bin, subscribed"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]{1,253}$")


class _Aborted(Exception):
    """What `WebContext.abort` raises: the servicer's code and details, to be sent as trailers."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(code, details)
        self.code = code
        self.details = details


class WebContext:
    """The part of `grpc.aio.ServicerContext` devnode's servicers call, on one HTTP request."""

    def __init__(self, request: web.Request, response: web.StreamResponse) -> None:
        self._request = request
        self._response = response
        peername = request.transport.get_extra_info("peername") if request.transport else None
        host, port = (peername or ("?", 0))[:2]
        # One browser connection carries one call at a time, so the per-connection subscription cap of the
        # broker counts a client's parallel streams as it does for h2c.
        self._peer = f"grpc-web:{host}:{port}"

    def peer(self) -> str:
        return self._peer

    async def abort(self, code: grpc.StatusCode, details: str = "") -> NoReturn:
        raise _Aborted(code, details)

    async def send_initial_metadata(self, metadata: Iterable[tuple[str, str | bytes]]) -> None:
        for key, value in metadata:
            text = base64.b64encode(value).decode() if isinstance(value, bytes) else value
            self._response.headers[key] = text
        await self._start()

    async def _start(self) -> None:
        if not self._response.prepared:
            await self._response.prepare(self._request)

    def invocation_metadata(self) -> Sequence[tuple[str, str]]:
        return [(k.lower(), v) for k, v in self._request.headers.items()]

    def time_remaining(self) -> float | None:
        return None

    def set_code(self, code: grpc.StatusCode) -> None:
        """Not used by devnode's servicers; accepted so a servicer that calls it does not crash the call."""

    def set_details(self, details: str) -> None:
        """Not used by devnode's servicers; see `set_code`."""


@dataclass(frozen=True)
class _Method:
    handler: grpc.RpcMethodHandler
    streaming: bool


class _Collector:
    """Stands in for a `grpc.Server` in the generated `add_*Servicer_to_server`: keeps the method handlers."""

    def __init__(self) -> None:
        self.methods: dict[str, _Method] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        """The same handlers again in generic form; `add_registered_method_handlers` already has them."""

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        for name, handler in handlers.items():
            if not handler.request_streaming:  # bidi Subscribe stays h2c-only (it is UNIMPLEMENTED anyway)
                self.methods[f"/{service}/{name}"] = _Method(handler, bool(handler.response_streaming))


def frame(payload: bytes, flags: int = 0) -> bytes:
    """One gRPC-web frame: flags, big-endian length, payload."""
    return FRAME_HEADER.pack(flags, len(payload)) + payload


def trailers_frame(code: grpc.StatusCode, details: str = "") -> bytes:
    lines = f"grpc-status: {code.value[0]}\r\n"
    if details:
        # grpc-message is percent-encoded (gRPC over HTTP/2 spec); the details are cleaned and cut first.
        lines += f"grpc-message: {quote(clean(details, DETAILS_LIMIT), safe=' ')}\r\n"
    return frame(lines.encode("ascii"), FLAG_TRAILERS)


class BadRequest(Exception):
    """A request body that is not exactly one uncompressed gRPC-web data frame."""

    def __init__(self, code: grpc.StatusCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def parse_request_body(body: bytes) -> bytes:
    """The one message of a unary or server-streaming request; anything else is a `BadRequest`."""
    if len(body) < FRAME_HEADER.size:
        raise BadRequest(grpc.StatusCode.INVALID_ARGUMENT, "request body is not a gRPC-web frame")
    flags, length = FRAME_HEADER.unpack_from(body)
    if flags & FLAG_TRAILERS or flags & ~(FLAG_TRAILERS | FLAG_COMPRESSED):
        raise BadRequest(grpc.StatusCode.INVALID_ARGUMENT, f"unexpected frame flags 0x{flags:02x}")
    if flags & FLAG_COMPRESSED:
        raise BadRequest(grpc.StatusCode.UNIMPLEMENTED, "compressed messages are not supported")
    if len(body) != FRAME_HEADER.size + length:
        raise BadRequest(grpc.StatusCode.INVALID_ARGUMENT, "request body must hold exactly one message frame")
    return body[FRAME_HEADER.size :]


def _cors(request: web.Request, headers: Any) -> None:
    origin = request.headers.get("Origin", "")
    # devnode has no cookies or credentials to protect: any page may call it, as XMTP's local proxy allows.
    headers["Access-Control-Allow-Origin"] = origin if _ORIGIN.match(origin) else "*"
    headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    headers["Vary"] = "Origin"


class GrpcWeb:
    """The aiohttp application: `POST /<service>/<method>` calls, `OPTIONS` preflights."""

    def __init__(self, *servicers: tuple[Any, Any]) -> None:
        collector = _Collector()
        for add, servicer in servicers:
            add(servicer, collector)
        self.methods = collector.methods
        self.app = web.Application(client_max_size=GRPC_MAX_MESSAGE_BYTES + FRAME_HEADER.size)
        self.app.router.add_route("OPTIONS", "/{path:.*}", self._preflight)
        self.app.router.add_route("POST", "/{path:.*}", self._call)

    async def _preflight(self, request: web.Request) -> web.Response:
        response = web.Response(status=204)
        _cors(request, response.headers)
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_REQUEST_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
        return response

    async def _call(self, request: web.Request) -> web.StreamResponse:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in ("application/grpc-web", "application/grpc-web+proto"):
            # grpc-web-text (base64) is for clients without binary fetch bodies; libxmtp sends binary.
            refused = web.Response(status=415, text="expected application/grpc-web+proto")
            _cors(request, refused.headers)  # so a browser shows the 415, not a CORS failure
            return refused
        response = web.StreamResponse(status=200)
        _cors(request, response.headers)
        response.headers["Content-Type"] = "application/grpc-web+proto"
        code, details = await self._run(request, WebContext(request, response), response)
        await self._write(request, response, trailers_frame(code, details))
        await response.write_eof()
        return response

    async def _run(
        self, request: web.Request, context: WebContext, response: web.StreamResponse
    ) -> tuple[grpc.StatusCode, str]:
        method = self.methods.get(request.path)
        if method is None:
            return grpc.StatusCode.UNIMPLEMENTED, f"unknown method {request.path}"
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return grpc.StatusCode.RESOURCE_EXHAUSTED, f"request larger than {GRPC_MAX_MESSAGE_BYTES} bytes"
        try:
            message = method.handler.request_deserializer(parse_request_body(body))  # type: ignore[misc]
        except BadRequest as exc:
            return exc.code, str(exc)
        except DecodeError:
            return grpc.StatusCode.INVALID_ARGUMENT, "request is not a valid protobuf message"
        serialize = method.handler.response_serializer
        try:
            if method.streaming:
                stream: AsyncIterator[Any] = method.handler.unary_stream(message, context)  # type: ignore[misc]
                async for item in stream:
                    await self._write(request, response, frame(serialize(item)))  # type: ignore[misc]
            else:
                reply = await method.handler.unary_unary(message, context)  # type: ignore[misc]
                await self._write(request, response, frame(serialize(reply)))  # type: ignore[misc]
        except _Aborted as exc:
            return exc.code, exc.details
        except (ConnectionResetError, asyncio.CancelledError):
            raise  # the browser left: the servicer's finally blocks have run, nothing to answer
        except Exception as exc:
            # A servicer bug: neither the client nor the log gets its message, which may quote request bytes.
            log.error("grpc-web %s failed: %s", clean(request.path, 200), type(exc).__name__)
            return grpc.StatusCode.INTERNAL, "internal error"
        return grpc.StatusCode.OK, ""

    @staticmethod
    async def _write(request: web.Request, response: web.StreamResponse, data: bytes) -> None:
        if not response.prepared:
            await response.prepare(request)
        await response.write(data)


@dataclass
class RunningGrpcWeb:
    """A started gRPC-web listener: its bound port, and `stop()`."""

    host: str
    port: int
    runner: web.AppRunner

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.runner.cleanup()


async def start_grpc_web(host: str, port: int, *servicers: tuple[Any, Any]) -> RunningGrpcWeb:
    """Serve the servicers over gRPC-web on HOST:PORT (0 picks one). `servicers` are pairs of the generated
    `add_*Servicer_to_server` function and the servicer instance."""
    gateway = GrpcWeb(*servicers)
    # handler_cancellation: a browser that closes a stream cancels its handler, which closes the subscription.
    runner = web.AppRunner(gateway.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return RunningGrpcWeb(host=host, port=bound, runner=runner)
