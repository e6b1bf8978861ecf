"""devnode entry points: `start()` for tests and benches, `serve()` for the CLI (runs until signalled)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine
from xmtp_core.protos.identity.api.v1 import identity_pb2_grpc
from xmtp_core.protos.mls.api.v1 import mls_pb2_grpc

from devnode.db import make_engine, migrate
from devnode.grpc_web import RunningGrpcWeb, start_grpc_web
from devnode.identity_api import IdentityApi
from devnode.limits import GRPC_MAX_MESSAGE_BYTES
from devnode.mls_api import MlsApi
from devnode.node import Node
from devnode.ratelimit import Limited, RateLimiter, RateLimits
from devnode.store import Store

log = logging.getLogger("devnode")
STOP_GRACE_S = 5.0
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
    # libxmtp pings every 16-45 s even while a stream is idle. gRPC's server defaults (one ping per
    # 5 min, 2 strikes) answer that with GOAWAY "too_many_pings", which kills every open subscription.
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 1000),
    ("grpc.http2.max_ping_strikes", 0),
    # Our own pings find clients that vanished without closing, so their subscriptions are released.
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 20_000),
]


@dataclass
class RunningNode:
    """A started devnode: its bound port, and `stop()` to end streams, drain calls and close the pool."""

    host: str
    port: int
    server: grpc.aio.Server
    node: Node
    engine: AsyncEngine
    grpc_web: RunningGrpcWeb | None = None
    limiter: RateLimiter | None = None  # its counters when rate limits (or counting) are on

    @property
    def grpc_web_port(self) -> int | None:
        return self.grpc_web.port if self.grpc_web else None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        # End live streams first so they finish with OK instead of being cut off at the end of the grace.
        self.node.close_streams()
        if self.grpc_web:
            await self.grpc_web.stop()
        await self.server.stop(grace)
        await self.engine.dispose()


def _split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address must be HOST:PORT, got {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


async def start(
    listen: str, database_url: str, grpc_web_listen: str | None = None, rate_limits: RateLimits | None = None
) -> RunningNode:
    """Migrate the database, then serve MlsApi + IdentityApi on an insecure (h2c) port; port 0 picks one.
    With `grpc_web_listen` (HOST:PORT) the same servicers also answer gRPC-web (HTTP/1.1, CORS) there.
    `rate_limits` (else `RateLimits.from_env()`, off by default) applies XMTP's per-client limits."""
    host, _ = _split_listen(listen)
    grpc_web: RunningGrpcWeb | None = None
    limiter: RateLimiter | None = None
    engine = make_engine(database_url)
    try:
        await migrate(engine)
        node = Node(Store(engine))
        server = grpc.aio.server(options=SERVER_OPTIONS)
        mls, identity = MlsApi(node), IdentityApi(node)
        limits = rate_limits or RateLimits.from_env()
        if limits is not None:
            limiter = RateLimiter(limits)
            mls, identity = Limited(mls, limiter), Limited(identity, limiter)  # type: ignore[assignment]
        mls_pb2_grpc.add_MlsApiServicer_to_server(mls, server)  # type: ignore[no-untyped-call]
        identity_pb2_grpc.add_IdentityApiServicer_to_server(identity, server)  # type: ignore[no-untyped-call]
        port = server.add_insecure_port(listen)
        await server.start()
        if grpc_web_listen is not None:
            web_host, web_port = _split_listen(grpc_web_listen)
            grpc_web = await start_grpc_web(
                web_host,
                web_port,
                (mls_pb2_grpc.add_MlsApiServicer_to_server, mls),
                (identity_pb2_grpc.add_IdentityApiServicer_to_server, identity),
            )
            log.info("devnode serving gRPC-web on %s:%d", web_host, grpc_web.port)
    except BaseException:
        await engine.dispose()
        raise
    log.info("devnode serving on %s:%d", host, port)
    return RunningNode(
        host=host, port=port, server=server, node=node, engine=engine, grpc_web=grpc_web, limiter=limiter
    )


async def serve(listen: str, database_url: str, announce: bool = False, grpc_web_listen: str | None = None) -> None:
    """Run until SIGINT/SIGTERM or cancellation, then shut down with a grace period."""
    running = await start(listen, database_url, grpc_web_listen)
    if announce:
        print(f"devnode listening on {running.address}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        await asyncio.shield(running.stop())
