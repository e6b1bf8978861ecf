"""Each service's HTTP endpoint on `SB_HEALTH_PORT` (off when unset, so several services share a host under
`make run`): `/healthz` (the process's event loop answers: liveness), `/readyz` (NATS, Postgres and node
connectivity, 200 or 503 with a JSON body naming each check) and `/metrics` (Prometheus text format).

A tiny asyncio server, not a web framework: GET only, the request head bounded (8 KiB, 5 s), one answer per
connection. Anyone who can reach the port sees check names, up/down and metric values, never message content
or keys (see `xmtp_core.telemetry`); keep the port inside the cluster (NetworkPolicies in `deploy/k8s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]

_MAX_HEAD: Final = 8 * 1024
_READ_TIMEOUT_S: Final = 5.0
CHECK_TIMEOUT_S: Final = 2.0


def nats_check(nc: Any) -> Check:
    """Up while the NATS connection is connected (nats-py reconnects by itself)."""

    async def check() -> bool:
        return bool(nc.is_connected)

    return check


def node_check(node: Any) -> Check:
    """Up unless the node's gRPC channel is failing or shut down (an idle channel is up: it connects on use)."""
    import grpc

    async def check() -> bool:
        state = node._channel.get_state(try_to_connect=True)
        return state not in (grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.SHUTDOWN)

    return check


def postgres_check(url: str) -> Check:
    """Up when Postgres answers `SELECT 1` on a fresh connection."""
    import asyncpg  # type: ignore[import-untyped]

    from xmtp_core.pg_url import plain_pg_url

    dsn = plain_pg_url(url)

    async def check() -> bool:
        conn = await asyncpg.connect(dsn, timeout=CHECK_TIMEOUT_S)
        try:
            return bool(await conn.fetchval("SELECT 1") == 1)
        finally:
            await conn.close()

    return check


async def run_checks(checks: Mapping[str, Check]) -> dict[str, str]:
    """Each check's result, `ok` or `down` (a check that raises or hangs is down; its error is not shown)."""

    async def one(check: Check) -> str:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                return "ok" if await check() else "down"
        except Exception:
            return "down"

    names = list(checks)
    results = await asyncio.gather(*(one(checks[n]) for n in names))
    return dict(zip(names, results, strict=True))


def _response(status: str, body: bytes, content_type: str) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class HealthServer:
    """The endpoint of one service; `checks` decide readiness."""

    def __init__(self, service: str, checks: Mapping[str, Check], host: str = "0.0.0.0", port: int = 0) -> None:
        self.service = service
        self.checks = dict(checks)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=_MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s: health and metrics on port %d", self.service, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def answer(self, method: str, path: str) -> bytes:
        if method != "GET":
            return _response("405 Method Not Allowed", b"", "text/plain")
        path = path.split("?", 1)[0]
        if path == "/healthz":
            return _response("200 OK", b"ok\n", "text/plain")
        if path == "/readyz":
            results = await run_checks(self.checks)
            ready = all(v == "ok" for v in results.values())
            body = json.dumps({"service": self.service, "ready": ready, "checks": results}).encode()
            return _response("200 OK" if ready else "503 Service Unavailable", body, "application/json")
        if path == "/metrics":
            return _response("200 OK", generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
        return _response("404 Not Found", b"", "text/plain")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                async with asyncio.timeout(_READ_TIMEOUT_S):
                    head = await reader.readuntil(b"\r\n\r\n")
                method, path, _version = head.split(b"\r\n", 1)[0].decode("ascii").split(" ", 2)
            except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError, ValueError):
                writer.write(_response("400 Bad Request", b"", "text/plain"))
            else:
                writer.write(await self.answer(method, path))
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def serving(
    service: str, checks: Mapping[str, Check], environ: Mapping[str, str] | None = None
) -> AsyncIterator[HealthServer | None]:
    """The endpoint while the block runs, on `SB_HEALTH_PORT` (none when unset or empty)."""
    env = os.environ if environ is None else environ
    port = env.get("SB_HEALTH_PORT", "")
    if not port:
        yield None
        return
    server = HealthServer(service, checks, env.get("SB_HEALTH_HOST", "0.0.0.0"), int(port))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


__all__ = ["Check", "HealthServer", "nats_check", "node_check", "postgres_check", "run_checks", "serving"]
