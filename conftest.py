"""Fixtures every test directory shares: real NATS and Postgres (from env, or private servers) and fresh databases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from switchboard.devservices import DevServices, dev_services


@pytest.fixture(scope="session")
def services() -> Iterator[DevServices]:
    """NATS_URL / DATABASE_URL when set, else throwaway servers for the whole test session."""
    with dev_services() as svc:
        yield svc


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture
async def database_url(services: DevServices) -> AsyncIterator[str]:
    """A brand-new empty Postgres database for one test, dropped afterwards (`postgresql://` form)."""
    import asyncpg
    from xmtp_core.config import plain_pg_url

    admin_url = plain_pg_url(services.database_url)
    name = f"t_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield _with_database(admin_url, name)
    conn = await asyncpg.connect(admin_url)
    try:
        await asyncio.wait_for(conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'), 30)
    finally:
        await conn.close()
