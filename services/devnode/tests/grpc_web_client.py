"""A small gRPC-web client for tests, shaped like grpc.aio's stubs (awaitable unary calls; stream calls with
`initial_metadata()`, `read()`, `code()`, `cancel()` and async iteration; failures as `grpc.aio.AioRpcError`),
so devnode's own tests run unchanged over the browser transport."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import aiohttp
import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.message import Message

CODES = {code.value[0]: code for code in grpc.StatusCode}
HEADER = struct.Struct(">BI")


def _error(code: grpc.StatusCode, details: str, headers: list[tuple[str, str]]) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(*headers), grpc.aio.Metadata(), details=details)


def parse_trailers(payload: bytes) -> tuple[grpc.StatusCode, str]:
    fields = dict(line.split(":", 1) for line in payload.decode("ascii").split("\r\n") if line)
    fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
    return CODES[int(fields["grpc-status"])], unquote(fields.get("grpc-message", ""))


async def read_frames(content: aiohttp.StreamReader) -> AsyncIterator[tuple[int, bytes]]:
    while True:
        try:
            head = await content.readexactly(HEADER.size)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            return
        flags, length = HEADER.unpack(head)
        yield flags, await content.readexactly(length)


def _headers(response: aiohttp.ClientResponse) -> list[tuple[str, str]]:
    return [(k.lower(), v) for k, v in response.headers.items()]


class WebStreamCall:
    """A server-streaming call in flight (started at once, like grpc.aio's)."""

    def __init__(self, session: aiohttp.ClientSession, url: str, body: bytes, reply: type[Message]) -> None:
        self._reply = reply
        self._metadata: asyncio.Future[list[tuple[str, str]]] = asyncio.get_running_loop().create_future()
        self._items: asyncio.Queue[Message | grpc.aio.AioRpcError | None] = asyncio.Queue()
        self._code: asyncio.Future[grpc.StatusCode] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._run(session, url, body))

    async def _run(self, session: aiohttp.ClientSession, url: str, body: bytes) -> None:
        async with session.post(url, data=body, headers={"content-type": "application/grpc-web+proto"}) as resp:
            headers = _headers(resp)
            self._metadata.set_result(headers)
            async for flags, payload in read_frames(resp.content):
                if flags & 0x80:
                    code, details = parse_trailers(payload)
                    self._code.set_result(code)
                    self._items.put_nowait(None if code == grpc.StatusCode.OK else _error(code, details, headers))
                    return
                self._items.put_nowait(self._reply.FromString(payload))
        self._code.set_result(grpc.StatusCode.UNKNOWN)
        self._items.put_nowait(_error(grpc.StatusCode.UNKNOWN, "stream ended without trailers", []))

    async def initial_metadata(self) -> list[tuple[str, str]]:
        return await self._metadata

    async def code(self) -> grpc.StatusCode:
        return await self._code

    async def read(self) -> Any:
        item = await self._items.get()
        if isinstance(item, grpc.aio.AioRpcError):
            raise item
        if item is None:
            self._items.put_nowait(None)
            return grpc.aio.EOF
        return item

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while (item := await self.read()) is not grpc.aio.EOF:
            yield item

    def cancel(self) -> bool:
        return self._task.cancel()


class WebStub:
    """`WebStub(session, base_url, pb2_module, "MlsApi")`: attribute per RPC, like a generated stub."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, module: Any, service: str) -> None:
        descriptor: FileDescriptor = module.DESCRIPTOR
        self._service = descriptor.services_by_name[service]
        self._session = session
        self._base = base_url.rstrip("/")

    def __getattr__(self, name: str) -> Any:
        method = self._service.methods_by_name[name]
        reply = message_factory.GetMessageClass(method.output_type)
        url = f"{self._base}/{self._service.full_name}/{name}"

        def body(request: Message) -> bytes:
            data = request.SerializeToString()
            return HEADER.pack(0, len(data)) + data

        if method.server_streaming:
            return lambda request: WebStreamCall(self._session, url, body(request), reply)

        async def unary(request: Message) -> Message:
            headers = {"content-type": "application/grpc-web+proto"}
            async with self._session.post(url, data=body(request), headers=headers) as resp:
                out: Message | None = None
                async for flags, payload in read_frames(resp.content):
                    if flags & 0x80:
                        code, details = parse_trailers(payload)
                        if code != grpc.StatusCode.OK:
                            raise _error(code, details, _headers(resp))
                        if out is None:
                            raise _error(grpc.StatusCode.INTERNAL, "no response message", [])
                        return out
                    out = reply.FromString(payload)
            raise _error(grpc.StatusCode.UNKNOWN, "response ended without trailers", [])

        return unary
