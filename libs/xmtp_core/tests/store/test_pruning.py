"""Pruning the tables that grow with traffic: processed-envelope marks (only at or below the topic's stored cursor,
only past a horizon, and without forgetting: a copy arriving after the prune is still refused) and refusals past a
retention; a re-join below a floor processes what came after its cursor anew."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from xmtp_core.store import Store
from xmtp_core.store.envelopes import FLOOR
from xmtp_core.store.rejections import Rejection
from xmtp_core.store.schema import processed_envelopes, rejected_envelopes

OLD = 1_000  # processed_ns of marks written "long ago"
HORIZON = 10_000


async def rows(session: AsyncSession, topic: str) -> list[tuple[int, int]]:
    t = processed_envelopes
    found = await session.execute(
        sa.select(t.c.envelope_id, t.c.processed_ns).where(t.c.topic == topic).order_by(t.c.envelope_id)
    )
    return [(int(i), int(ns)) for i, ns in found.all()]


async def mark_old(store: Store, session: AsyncSession, topic: str, ids: range) -> None:
    for n in ids:
        assert await store.envelopes.mark(session, topic, n)
    t = processed_envelopes
    which = sa.and_(t.c.topic == topic, t.c.envelope_id.in_(list(ids)))
    await session.execute(sa.update(t).where(which).values(processed_ns=OLD))


async def test_marks_below_the_cursor_and_past_the_horizon_become_one_floor(
    store: Store, session: AsyncSession
) -> None:
    async with session.begin():
        await mark_old(store, session, "g/1", range(1, 21))  # 1..20 processed long ago
        await store.cursors.advance(session, "g/1", 15)  # the cursor moved past 1..15, not 16..20
        assert await store.envelopes.mark(session, "g/1", 21)  # recent
        await mark_old(store, session, "g/nocursor", range(1, 6))  # no stored cursor: nothing is known below it

        assert await store.envelopes.prune_processed(session, HORIZON) == 14
        kept = await rows(session, "g/1")
        assert kept[:-1] == [(15, FLOOR), *[(n, OLD) for n in range(16, 21)]]  # above the cursor: kept
        assert kept[-1][0] == 21 and kept[-1][1] > HORIZON  # recent: kept
        assert len(await rows(session, "g/nocursor")) == 5

        # Nothing was forgotten: a copy of any of them arriving now is refused as processed.
        for n in range(1, 22):
            assert await store.envelopes.is_processed(session, "g/1", n), n
            assert not await store.envelopes.mark(session, "g/1", n), n
        assert not await store.envelopes.is_processed(session, "g/1", 22)
        assert await store.envelopes.mark(session, "g/1", 22)
        assert await store.envelopes.mark(session, "g/2", 3)  # the floor is its topic's only

        # Pruning again once the cursor moved on folds the old floor into the new one.
        await store.cursors.advance(session, "g/1", 20)
        assert await store.envelopes.prune_processed(session, HORIZON) == 5
        assert [r for r in await rows(session, "g/1") if r[0] <= 20] == [(20, FLOOR)]
        assert await store.envelopes.prune_processed(session, HORIZON) == 0


async def test_a_rejoin_below_a_floor_processes_what_came_after_its_cursor(store: Store, session: AsyncSession) -> None:
    async with session.begin():
        await mark_old(store, session, "g/1", range(1, 11))
        await store.cursors.advance(session, "g/1", 10)
        await store.envelopes.prune_processed(session, HORIZON)
        assert await rows(session, "g/1") == [(10, FLOOR)]

        await store.envelopes.forget_after(session, "g/1", 6)  # re-joined with a Welcome at cursor 6
        assert await rows(session, "g/1") == [(6, FLOOR)]
        for n in range(1, 7):
            assert not await store.envelopes.mark(session, "g/1", n), n
        for n in range(7, 11):
            assert await store.envelopes.mark(session, "g/1", n), n

        await store.envelopes.forget_after(session, "g/1", 8)  # no floor above 8: marks above go, the floor stays
        assert (6, FLOOR) in await rows(session, "g/1")


async def test_refusals_past_their_retention_are_forgotten(store: Store, session: AsyncSession) -> None:
    async with session.begin():
        for n in range(5):
            await store.rejections.record(session, Rejection("g/1", n, "tampered", "d", rejected_ns=OLD + n))
        await store.rejections.record(session, Rejection("g/1", 9, "tampered", "d", rejected_ns=HORIZON + 1))
        assert await store.rejections.prune_older_than(session, OLD + 3, limit=2) == 2
        assert await store.rejections.prune_older_than(session, OLD + 3) == 1
        left = (await session.execute(sa.select(rejected_envelopes.c.envelope_id))).scalars().all()
        assert sorted(left) == [3, 4, 9]
