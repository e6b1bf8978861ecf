"""conversation_lock really serialises sessions on different connections (as separate processes would).

Ordering is proven by observation, not timing: B is shown to be *waiting* on the advisory lock in pg_locks
while A still holds it, and a read-modify-write counter ends at 2 only if B ran strictly after A committed.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from xmtp_core.store import Store, conversation_lock, conversation_lock_key, make_engine, session_factory

TOPIC = "counter"


@pytest.fixture
async def other_engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(migrated_url)
    yield engine
    await engine.dispose()


async def _read(store: Store, s: AsyncSession) -> int:
    return await store.cursors.get(s, TOPIC)


async def _backend_pid(s: AsyncSession) -> int:
    return int((await s.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())


async def _wait_until_blocked(engine: AsyncEngine, pid: int, group_id: bytes) -> None:
    """Return once backend `pid` waits for this conversation's advisory lock (fails after 30 s)."""
    key = conversation_lock_key(group_id) & 0xFFFFFFFFFFFFFFFF
    query = sa.text(
        "SELECT 1 FROM pg_locks WHERE pid = :pid AND locktype = 'advisory' AND NOT granted "
        "AND classid::bigint = :hi AND objid::bigint = :lo"
    )
    async with engine.connect() as conn:
        for _ in range(3000):
            if (await conn.execute(query, {"pid": pid, "hi": key >> 32, "lo": key & 0xFFFFFFFF})).first():
                return
            await conn.rollback()
            await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for the conversation lock")


async def _increment_under_lock(store: Store, s: AsyncSession, gid: bytes, log: list[str], name: str) -> None:
    async with conversation_lock(s, gid):
        value = await _read(store, s)
        await store.cursors.advance(s, TOPIC, value + 1)
        log.append(name)


async def test_lock_serialises_two_connections(store: Store, other_engine: AsyncEngine) -> None:
    gid = os.urandom(32)
    log: list[str] = []
    async with store.session() as a, session_factory(other_engine)() as b:
        b_pid = await _backend_pid(b)
        await b.commit()
        async with conversation_lock(a, gid):
            seen_by_a = await _read(store, a)
            b_task = asyncio.create_task(_increment_under_lock(store, b, gid, log, "B"))
            await _wait_until_blocked(store.db, b_pid, gid)
            assert log == [] and not b_task.done()
            await store.cursors.advance(a, TOPIC, seen_by_a + 1)
            log.append("A")
        await asyncio.wait_for(b_task, 30)
        assert log == ["A", "B"]
        async with a.begin():
            # B read A's committed write: without the lock B would have read 0 and written 1.
            assert await _read(store, a) == 2


async def test_other_conversations_are_not_blocked(store: Store, other_engine: AsyncEngine) -> None:
    log: list[str] = []
    async with store.session() as a, session_factory(other_engine)() as b, conversation_lock(a, b"group-1"):
        await asyncio.wait_for(_increment_under_lock(store, b, b"group-2", log, "B"), 30)
        log.append("A")
    assert log == ["B", "A"]


async def test_lock_inside_caller_transaction_lasts_until_commit(store: Store, other_engine: AsyncEngine) -> None:
    gid = os.urandom(32)
    log: list[str] = []
    async with store.session() as a, session_factory(other_engine)() as b:
        b_pid = await _backend_pid(b)
        await b.commit()
        async with a.begin():
            async with conversation_lock(a, gid):
                log.append("A locked")
            b_task = asyncio.create_task(_increment_under_lock(store, b, gid, log, "B"))
            # The block is over but the transaction is not, so B must still wait.
            await _wait_until_blocked(store.db, b_pid, gid)
            log.append("A commits")
        await asyncio.wait_for(b_task, 30)
    assert log == ["A locked", "A commits", "B"]


async def test_lock_released_on_error(store: Store, other_engine: AsyncEngine) -> None:
    gid = os.urandom(32)
    async with store.session() as a, session_factory(other_engine)() as b:
        with pytest.raises(RuntimeError):
            async with conversation_lock(a, gid):
                await store.cursors.advance(a, TOPIC, 5)
                raise RuntimeError("worker crashed")
        assert not a.in_transaction()
        async with conversation_lock(b, gid):
            assert await _read(store, b) == 0  # the crashed block's write was rolled back


def test_lock_key_is_stable_64_bit() -> None:
    gid = bytes(range(32))
    expected = int.from_bytes(
        hashlib.sha256(b"xmtp-core/store/conversation-lock\x00" + gid).digest()[:8], "big", signed=True
    )
    assert conversation_lock_key(gid) == expected
    assert -(2**63) <= conversation_lock_key(os.urandom(32)) < 2**63
    assert conversation_lock_key(b"a") != conversation_lock_key(b"b")
