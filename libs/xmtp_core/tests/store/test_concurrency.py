"""Races between two connections on cursors, envelope dedup and message inserts resolve safely.

Each test makes B's statement provably wait on A's uncommitted row (seen in pg_locks), then commits A:
the outcome is decided by ordering, not timing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from xmtp_core.store import EncryptionKey, KeyRing, Store, StoredMessage, make_engine, session_factory


@pytest.fixture
async def other_engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(migrated_url)
    yield engine
    await engine.dispose()


async def _wait_until_waiting(engine: AsyncEngine, pid: int) -> None:
    """Return once backend `pid` waits for any lock (fails after 30 s)."""
    async with engine.connect() as conn:
        for _ in range(3000):
            if (
                await conn.execute(sa.text("SELECT 1 FROM pg_locks WHERE pid = :p AND NOT granted"), {"p": pid})
            ).first():
                return
            await conn.rollback()
            await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited")


async def _race(
    store: Store,
    other_engine: AsyncEngine,
    first: Callable[[AsyncSession], Awaitable[bool]],
    second: Callable[[AsyncSession], Awaitable[bool]],
) -> tuple[bool, bool]:
    """Run `first` in A's open transaction, start `second` in B, prove B blocks, commit A, finish B."""
    async with store.session() as a, session_factory(other_engine)() as b:
        b_pid = int((await b.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())
        await b.commit()

        async def in_b() -> bool:
            async with b.begin():
                return await second(b)

        async with a.begin():
            a_result = await first(a)
            b_task = asyncio.create_task(in_b())
            await _wait_until_waiting(store.db, b_pid)
            assert not b_task.done()
        return a_result, await asyncio.wait_for(b_task, 30)


async def test_cursor_race_never_moves_backwards(store: Store, other_engine: AsyncEngine) -> None:
    async with store.transaction() as s:
        await store.cursors.advance(s, "t", 1)
    a, b = await _race(
        store,
        other_engine,
        lambda s: store.cursors.advance(s, "t", 10),
        lambda s: store.cursors.advance(s, "t", 5),  # a stale worker, committed after the newer one
    )
    assert (a, b) == (True, False)
    async with store.transaction() as s:
        assert await store.cursors.get(s, "t") == 10


async def test_envelope_marked_once_under_race(store: Store, other_engine: AsyncEngine) -> None:
    a, b = await _race(
        store,
        other_engine,
        lambda s: store.envelopes.mark(s, "t", 42),
        lambda s: store.envelopes.mark(s, "t", 42),
    )
    assert (a, b) == (True, False)


async def test_message_inserted_once_under_race(store: Store, other_engine: AsyncEngine) -> None:
    msg = StoredMessage(os.urandom(32), os.urandom(32), "a", b"i", 1, "t", b"first copy")
    dup = StoredMessage(**{**msg.__dict__, "content": b"second copy"})
    a, b = await _race(
        store,
        other_engine,
        lambda s: store.messages.insert(s, msg),
        lambda s: store.messages.insert(s, dup),
    )
    assert (a, b) == (True, False)
    async with store.transaction() as s:
        assert await store.messages.get(s, msg.id) == msg


async def test_store_open_migrates_and_transaction_rolls_back(database_url: str) -> None:
    store = await Store.open(database_url, KeyRing(EncryptionKey.generate()))
    try:
        with pytest.raises(RuntimeError):
            async with store.transaction() as s:
                await store.cursors.advance(s, "t", 3)
                raise RuntimeError("abort")
        async with store.transaction() as s:
            assert await store.cursors.get(s, "t") == 0
            await store.cursors.advance(s, "t", 4)
        async with store.transaction() as s:
            assert await store.cursors.get(s, "t") == 4
    finally:
        await store.close()
