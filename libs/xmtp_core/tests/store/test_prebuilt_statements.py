"""The statements every envelope and send runs are built once and run on the driver (`xmtp_core.store.Prepared`):
running one builds no new SQL expression and goes through none of SQLAlchemy's execution layers (statement
building and cache-keying were over a third of crypto's CPU per echo, the session's execution layers a
quarter after that). Counted with SQLAlchemy's own cache-key generation and its cursor-execute event, which
every statement it runs passes; and `Prepared` keeps to the caller's transaction."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.sql import cache_key
from xmtp_core.runtime.group_cache import GroupCache
from xmtp_core.store import GroupState, IntentState, OutboxEvent, Prepared, Store, StoredMessage, conversation_lock
from xmtp_core.store.messages import DeliveryStatus
from xmtp_core.store.schema import cursors


@pytest.fixture
def keyings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    count = [0]
    real = cache_key.HasCacheKey._generate_cache_key

    def counted(self: Any) -> Any:
        count[0] += 1
        return real(self)

    monkeypatch.setattr(cache_key.HasCacheKey, "_generate_cache_key", counted)
    return count


@pytest.fixture
def executed(store: Store) -> Any:
    """The statements SQLAlchemy itself sends (BEGIN and COMMIT are not among them)."""
    sent: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(store.db.sync_engine, "before_cursor_execute", listener)
    yield sent
    event.remove(store.db.sync_engine, "before_cursor_execute", listener)


def _hot_path(store: Store) -> list[Callable[[Any], Awaitable[object]]]:
    gid, digest = os.urandom(32), os.urandom(32)
    msg = StoredMessage(os.urandom(32), gid, "inbox", b"k", 1, "xmtp.org/text:1.0", b"c", DeliveryStatus.UNPUBLISHED)
    cache = GroupCache(store)
    steps: list[Callable[[Any], Awaitable[object]]] = [
        lambda s: store.group_states.save(s, GroupState(gid, 0, b"state"), prune=False),
        lambda s: cache.checkout(s, gid),
        lambda s: store.envelopes.mark(s, "group:x", 5, digest),
        lambda s: store.cursors.advance(s, "group:x", 5),
        lambda s: store.cursors.get(s, "group:x"),
        lambda s: store.messages.insert(s, msg),
        lambda s: store.messages.get(s, msg.id),
        lambda s: store.messages.set_delivery_status(s, msg.id, DeliveryStatus.PUBLISHED),
        lambda s: store.outbox.add(s, OutboxEvent("group:x:5:0", gid, "message", b"{}")),
        lambda s: store.outbox.claim(s, 10),
        lambda s: store.outbox.mark_delivered(s, ["group:x:5:0"]),
        lambda s: store.conversations.get(s, gid),
        lambda s: store.intents.create(s, gid, "send_message", b"p", published_hash=digest),
        lambda s: store.intents.finish_published(s, gid, digest, "send_message", IntentState.PROCESSED, published_id=5),
        lambda s: store.group_states.current_epoch(s, gid),
        lambda s: store.group_states.load_current(s, gid),
        lambda s: store.group_states.save(s, GroupState(gid, 1, b"state"), prune=True),
    ]
    return steps


async def test_the_hot_path_builds_no_statement(store: Store, keyings: list[int]) -> None:
    steps = _hot_path(store)
    for step in steps:  # the first run of each may key it once (memoized on the statement)
        async with store.transaction() as s:
            await step(s)
    keyings[0] = 0
    for step in steps:
        async with store.transaction() as s:
            await step(s)
    assert keyings[0] == 0


async def test_the_hot_path_runs_nothing_through_sqlalchemy(store: Store, executed: list[str]) -> None:
    steps = _hot_path(store)
    for step in steps:  # the blind index's key is made and read back once, through SQLAlchemy
        async with store.transaction() as s:
            await step(s)
    assert executed
    executed.clear()
    for step in steps:
        async with store.transaction() as s:
            await step(s)
    assert executed == []


async def test_a_prepared_statement_is_part_of_the_callers_transaction(store: Store) -> None:
    advance = Prepared(sa.insert(cursors), ["topic", "last_id"])
    count = sa.select(sa.func.count()).select_from(cursors).where(cursors.c.topic.like("prepared:%"))
    with pytest.raises(RuntimeError, match="boom"):
        async with store.transaction() as s:
            await advance.execute(s, {"topic": "prepared:first", "last_id": 1})  # the transaction's first statement
            assert (await s.execute(count)).scalar_one() == 1  # SQLAlchemy sees it: one connection, one transaction
            raise RuntimeError("boom")
    async with store.transaction() as s:
        assert (await s.execute(count)).scalar_one() == 0  # rolled back with the transaction
        await advance.execute(s, {"topic": "prepared:kept", "last_id": 2})
    async with store.transaction() as s:
        assert (await s.execute(count)).scalar_one() == 1


async def test_a_prepared_statement_inside_a_conversation_lock_and_outside_any_transaction(store: Store) -> None:
    get = Prepared(sa.select(cursors.c.last_id).where(cursors.c.topic == sa.bindparam("topic", type_=sa.Text)))
    async with store.sessions() as s:
        with pytest.raises(RuntimeError, match="inside the caller's transaction"):
            await get.fetch(s, {"topic": "x"})
        async with conversation_lock(s, b"g" * 32):  # begins a transaction of its own on this session
            assert await get.fetch(s, {"topic": "x"}) == []
        # A second transaction on the same session, while another transaction holds the first one's connection
        # (the pool hands that one out first): the Prepared statement must run on the new one, not the cached.
        pid = Prepared(sa.select(sa.func.pg_backend_pid()))
        async with store.transaction() as other, conversation_lock(s, b"g" * 32):
            await other.execute(sa.select(1))
            assert await get.fetchrow(s, {"topic": "x"}) is None
            ours = (await s.execute(sa.select(sa.func.pg_backend_pid()))).scalar()
            theirs = (await other.execute(sa.select(sa.func.pg_backend_pid()))).scalar()
            assert ours != theirs
            assert (await pid.fetch(s, {}))[0][0] == ours
    with pytest.raises(KeyError):
        async with store.transaction() as s:
            await get.fetch(s, {})


async def test_a_connection_killed_under_a_prepared_statement_is_transient_and_the_pool_recovers(store: Store) -> None:
    from xmtp_core.runtime.guard import is_transient

    get = Prepared(sa.select(sa.func.pg_backend_pid()))
    with pytest.raises(Exception) as failure:
        async with store.transaction() as s:
            pid = (await get.fetch(s, {}))[0][0]
            async with store.transaction() as other:
                await other.execute(sa.select(sa.func.pg_terminate_backend(pid)))
            await get.fetch(s, {})
    assert is_transient(failure.value), repr(failure.value)
    for _ in range(3):  # the dead connection left the pool: every later transaction works
        async with store.transaction() as s:
            assert (await get.fetch(s, {}))[0][0] != pid
