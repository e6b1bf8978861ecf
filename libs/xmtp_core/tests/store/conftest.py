"""Fixtures for store tests: a migrated fresh database, a random key and a `Store` on top of them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from xmtp_core.store import EncryptionKey, KeyRing, Store, make_engine, migrate


@pytest.fixture
def key() -> EncryptionKey:
    return EncryptionKey.generate()


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    await migrate(database_url)
    return database_url


@pytest.fixture
async def store(migrated_url: str, key: EncryptionKey) -> AsyncIterator[Store]:
    s = Store(make_engine(migrated_url), KeyRing(key))
    yield s
    await s.close()


@pytest.fixture
async def session(store: Store) -> AsyncIterator[AsyncSession]:
    async with store.session() as s:
        yield s
