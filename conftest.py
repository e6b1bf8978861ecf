"""Fixtures every test directory shares: real NATS and Postgres (from env, or private servers), fresh databases,
and a devnode on the test's database with a node client for it."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

# gRPC's fork handlers (grpcio turns them on) run in every child a test process forks without vfork, e.g.
# Postgres restarted as its own user (devservices.restart); with an in-process devnode serving, that child
# segfaulted before its exec, every time ("Other threads are currently calling into gRPC, skipping fork()
# handlers"). Every child here execs at once, so the handlers have nothing to do. Set before grpc is imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

from switchboard.devservices import DevServices, dev_services

NewDatabase = Callable[[], Awaitable[str]]
_HEX_RUN = re.compile(r"[0-9a-f]{32,}")


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Ids that do not show long bytes or hex runs (random keys, ciphertexts): xdist needs every worker to collect
    the same test ids, and a parameter made with os.urandom differs in each process. pytest numbers repeats."""
    if isinstance(val, bytes) and len(val) > 16:
        return f"{len(val)}-bytes"
    if isinstance(val, str) and _HEX_RUN.search(val):
        return _HEX_RUN.sub(lambda m: f"<{len(m.group())}-hex>", val)
    return None


@pytest.fixture(scope="session")
def services() -> Iterator[DevServices]:
    """NATS_URL / DATABASE_URL when set, else throwaway servers for the whole test session (of each xdist
    worker). Under several xdist workers NATS is always a private server per worker: pipeline and bus tests wipe
    the server's JetStream streams, which would pull them from under the other worker's tests. Postgres may be
    shared: every test makes databases of its own."""
    with pytest.MonkeyPatch.context() as env:
        if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
            env.delenv("NATS_URL", raising=False)
        with dev_services() as svc:
            yield svc


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def _admin(services: DevServices, statement: str) -> None:
    import asyncpg
    from xmtp_core.pg_url import plain_pg_url

    conn = await asyncpg.connect(plain_pg_url(services.database_url))
    try:
        await asyncio.wait_for(conn.execute(statement), 30)
    finally:
        await conn.close()


@pytest.fixture
async def new_database(services: DevServices) -> AsyncIterator[NewDatabase]:
    """A factory of brand-new empty Postgres databases on the session's server (`postgresql://` URLs); every
    database it made is dropped after the test."""
    from xmtp_core.pg_url import plain_pg_url

    admin_url = plain_pg_url(services.database_url)
    names: list[str] = []

    async def make() -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        await _admin(services, f'CREATE DATABASE "{name}"')
        names.append(name)
        return _with_database(admin_url, name)

    yield make
    for name in reversed(names):
        await _admin(services, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def database_url(new_database: NewDatabase) -> str:
    """A brand-new empty Postgres database for one test, dropped afterwards (`postgresql://` form)."""
    return await new_database()


@pytest.fixture
async def devnode(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Any]:
    """A devnode (`devnode.main.RunningNode`) serving on 127.0.0.1:<free port> over the test's database; a test
    marked `grpc_web` also gets its gRPC-web port (`.grpc_web_port`)."""
    from devnode.main import start

    web = "127.0.0.1:0" if request.node.get_closest_marker("grpc_web") else None
    running = await start("127.0.0.1:0", database_url, grpc_web_listen=web)
    try:
        yield running
    finally:
        await running.stop(grace=1.0)


@pytest.fixture
async def devnode_client(devnode: Any) -> AsyncIterator[Any]:
    """A `xmtp_core.node.NodeClient` on the test's devnode (default channel options)."""
    from xmtp_core.node import NodeClient

    client = NodeClient.for_url(f"http://127.0.0.1:{devnode.port}")
    try:
        yield client
    finally:
        await client.close()
