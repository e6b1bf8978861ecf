"""Helpers shared by crypto's tests: a Python peer with a database of its own, and dropping a test database."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.node import NodeClient
from xmtp_core.pg_url import plain_pg_url
from xmtp_core.runtime import Runtime
from xmtp_core.store import EncryptionKey, KeyRing, Store


async def drop_database(database_url: str, name: str) -> None:
    conn = await asyncpg.connect(plain_pg_url(database_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def python_peer(node: NodeClient, database_url: str) -> AsyncIterator[Runtime]:
    """A Python peer with a database of its own (devnode's is the fixture's)."""
    name = f"p_{uuid.uuid4().hex[:12]}"
    admin = plain_pg_url(database_url)
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    store = await Store.open(admin.rsplit("/", 1)[0] + "/" + name, KeyRing(EncryptionKey.generate()))
    try:
        yield await Runtime.register(node, store, LocalWalletSigner.generate())
    finally:
        await store.close()
        await drop_database(database_url, name)
