"""The statements every envelope and send runs are built once (`xmtp_core.store._util`): running one builds no
new SQL expression, so SQLAlchemy neither constructs nor cache-keys it per call (that was over a third of
crypto's CPU per echo). Counted with SQLAlchemy's own cache-key generation, which a statement built per call
runs every time."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.sql import cache_key
from xmtp_core.runtime.group_cache import GroupCache
from xmtp_core.store import GroupState, IntentState, OutboxEvent, Store, StoredMessage
from xmtp_core.store.messages import DeliveryStatus


@pytest.fixture
def keyings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    count = [0]
    real = cache_key.HasCacheKey._generate_cache_key

    def counted(self: Any) -> Any:
        count[0] += 1
        return real(self)

    monkeypatch.setattr(cache_key.HasCacheKey, "_generate_cache_key", counted)
    return count


async def test_the_hot_path_builds_no_statement(store: Store, keyings: list[int]) -> None:
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
    ]
    for step in steps:  # the first run of each may key it once (memoized on the statement)
        async with store.transaction() as s:
            await step(s)
    keyings[0] = 0
    for step in steps:
        async with store.transaction() as s:
            await step(s)
    assert keyings[0] == 0
