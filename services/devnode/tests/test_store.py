"""Store-level behaviour that the gRPC tests cannot reach directly: replay paging by count and by size."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from devnode.db import make_engine, migrate
from devnode.models import NewGroupMessage, NewWelcome, WelcomeKind
from devnode.store import Store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    engine = make_engine(database_url, pool_size=2)
    await migrate(engine)
    await migrate(engine)  # idempotent
    try:
        yield Store(engine)
    finally:
        await engine.dispose()


def message(group: bytes, payload: bytes) -> NewGroupMessage:
    return NewGroupMessage(group_id=group, data=payload, sender_hmac=b"", should_push=False, is_commit=False)


async def test_replay_pages_by_count_and_per_topic_cursor(store: Store) -> None:
    rows = await store.insert_group_messages([message(g, b"%s%d" % (g, i)) for i in range(3) for g in (b"a", b"b")])
    a_ids = [r.id for r in rows if r.group_id == b"a"]
    page = await store.replay_group_messages({b"a": a_ids[0], b"b": 0}, limit=3)
    assert [r.data for r in page] == [b"b0", b"a1", b"b1"]
    assert [r.id for r in page] == sorted(r.id for r in page)


async def test_replay_page_is_cut_by_payload_size_but_never_empty(store: Store) -> None:
    await store.insert_group_messages([message(b"g", bytes([i]) * 100) for i in range(5)])
    page = await store.replay_group_messages({b"g": 0}, limit=10, max_bytes=250)
    assert [len(r.data) for r in page] == [100, 100, 100]  # the row that crosses the limit is the last one
    single = await store.replay_group_messages({b"g": 0}, limit=10, max_bytes=1)
    assert len(single) == 1


async def test_welcome_replay_and_duplicate_skip(store: Store) -> None:
    welcome = NewWelcome(b"k", WelcomeKind.POINTER, b"ptr", b"pk", 2, b"")
    first = await store.insert_welcomes([welcome, welcome])
    assert len(first) == 1
    assert await store.insert_welcomes([welcome]) == []
    replayed = await store.replay_welcomes({b"k": 0}, limit=10)
    assert [(r.kind, r.data) for r in replayed] == [(WelcomeKind.POINTER, b"ptr")]
