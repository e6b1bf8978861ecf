"""The outbox repository: events once per id, claimed in write order, hidden from a second claimer while one
holds them, marked delivered, pruned after."""

from __future__ import annotations

import time

from xmtp_core.store import OutboxEvent, Store


def _event(n: int) -> OutboxEvent:
    return OutboxEvent(f"group:aa:{n}:0", b"\xaa", "message", f"payload {n}".encode())


async def test_add_is_idempotent_and_claims_keep_write_order(store: Store) -> None:
    async with store.transaction() as s:
        assert await store.outbox.add(s, _event(2))
        assert await store.outbox.add(s, _event(1))
        assert not await store.outbox.add(s, _event(2))  # a redelivered envelope writes nothing new
    async with store.transaction() as s:
        claimed = await store.outbox.claim(s)
    assert [e.event_id for e in claimed] == ["group:aa:2:0", "group:aa:1:0"]
    assert claimed[0].payload == b"payload 2" and claimed[0].seq < claimed[1].seq


async def test_a_second_claimer_skips_rows_the_first_holds(store: Store) -> None:
    async with store.transaction() as s:
        for n in range(3):
            await store.outbox.add(s, _event(n))
    async with store.transaction() as first:
        held = await store.outbox.claim(first, 2)
        async with store.transaction() as second:
            rest = await store.outbox.claim(second)
        assert [e.event_id for e in held] == ["group:aa:0:0", "group:aa:1:0"]
        assert [e.event_id for e in rest] == ["group:aa:2:0"]
        await store.outbox.mark_delivered(first, [e.event_id for e in held])
    async with store.transaction() as s:
        assert await store.outbox.pending_count(s) == 1
        assert await store.outbox.prune_delivered(s, time.time_ns() + 1) == 2
        assert [e.event_id for e in await store.outbox.claim(s)] == ["group:aa:2:0"]
