"""Processed-envelope log: makes at-least-once delivery idempotent by remembering which envelopes were handled.

The log is pruned (`prune_processed`) without forgetting anything: the marks of a topic at or below its cursor and
older than a horizon are replaced by one floor row (`processed_ns` = FLOOR), and every id at or below a floor
counts as processed. Without the floor, a copy arriving after the prune (ingest republishing after a long
outage, past JetStream's duplicate window; a redelivery to a crypto that was down for hours) would be processed
a second time.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import Prepared, now_ns
from xmtp_core.store.schema import cursors
from xmtp_core.store.schema import processed_envelopes as t

FLOOR = -1  # processed_ns of a floor row: every id of its topic up to its envelope_id was processed


def _floor_at_or_above(topic: str, envelope_id: int) -> sa.Exists:
    return sa.exists().where(t.c.topic == topic, t.c.envelope_id >= envelope_id, t.c.processed_ns == FLOOR)


def _mark_statement() -> sa.Insert:
    topic, envelope_id = sa.bindparam("topic", type_=sa.Text), sa.bindparam("envelope_id", type_=sa.BigInteger)
    floor = sa.exists().where(t.c.topic == topic, t.c.envelope_id >= envelope_id, t.c.processed_ns == FLOOR)
    row = sa.select(
        topic,
        envelope_id,
        sa.bindparam("envelope_hash", type_=sa.LargeBinary),
        sa.bindparam("processed_ns", type_=sa.BigInteger),
    ).where(~floor)
    return (
        insert(t)
        .from_select([t.c.topic, t.c.envelope_id, t.c.envelope_hash, t.c.processed_ns], row)
        .on_conflict_do_nothing()
        .returning(t.c.envelope_id)
    )


_MARK = Prepared(_mark_statement())  # built once, run on the driver (`_util`)


class ProcessedEnvelopes:
    """Repository of processed-envelope marks, which make at-least-once delivery idempotent."""

    async def mark(
        self, session: AsyncSession, topic: str, envelope_id: int, envelope_hash: bytes | None = None
    ) -> bool:
        """Record an envelope as processed; False means it already was (the caller must skip its effects).

        Call it in the same transaction as the effects so both commit or neither does.
        """
        values = {"topic": topic, "envelope_id": envelope_id, "envelope_hash": envelope_hash, "processed_ns": now_ns()}
        return await _MARK.fetchrow(session, values) is not None

    async def is_processed(self, session: AsyncSession, topic: str, envelope_id: int) -> bool:
        marked = sa.exists().where(t.c.topic == topic, t.c.envelope_id == envelope_id)
        stmt = sa.select(sa.or_(marked, _floor_at_or_above(topic, envelope_id)))
        return bool((await session.execute(stmt)).scalar_one())

    async def is_hash_processed(self, session: AsyncSession, envelope_hash: bytes) -> bool:
        """For envelopes seen before the node assigned an id (e.g. our own, matched by content hash)."""
        stmt = sa.select(sa.literal(1)).where(t.c.envelope_hash == envelope_hash).limit(1)
        return (await session.execute(stmt)).first() is not None

    async def forget_after(self, session: AsyncSession, topic: str, envelope_id: int) -> int:
        """Forget entries above ``envelope_id`` (a re-joined conversation processes them anew).

        A floor above it comes down to ``envelope_id``: what was pruned at or below stays processed."""
        floor_above = sa.exists().where(t.c.topic == topic, t.c.envelope_id > envelope_id, t.c.processed_ns == FLOOR)
        had_floor = bool((await session.execute(sa.select(floor_above))).scalar_one())
        result = await session.execute(sa.delete(t).where(t.c.topic == topic, t.c.envelope_id > envelope_id))
        if had_floor:
            await self._set_floor(session, topic, envelope_id)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def _set_floor(self, session: AsyncSession, topic: str, envelope_id: int) -> None:
        stmt = insert(t).values(topic=topic, envelope_id=envelope_id, envelope_hash=None, processed_ns=FLOOR)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[t.c.topic, t.c.envelope_id], set_={"processed_ns": FLOOR, "envelope_hash": None}
            )
        )

    async def prune_processed(self, session: AsyncSession, older_than_ns: int, *, max_topics: int = 1000) -> int:
        """Replace, per topic, the marks at or below the topic's stored cursor and processed before
        ``older_than_ns`` by one floor row at the highest of them; returns how many rows went.

        Only below the stored cursor: the cursor moves in the transaction of the envelope it names, so every
        envelope at or below it that will ever be processed in order has been. ``older_than_ns`` must leave the
        bus's duplicate window and the longest redelivery behind (see `crypto.relay`). At most ``max_topics``
        topics per call (the rest wait for the next), so one call's work is bounded."""
        c = cursors
        old = sa.and_(t.c.envelope_id <= c.c.last_id, t.c.processed_ns < older_than_ns, t.c.processed_ns >= 0)
        floors = (
            sa.select(t.c.topic, sa.func.max(t.c.envelope_id).label("floor"))
            .join(c, c.c.topic == t.c.topic)
            .where(old)
            .group_by(t.c.topic)
            .having(sa.func.count() > 1)  # one old mark alone is as small as its floor
            .limit(max_topics)
        )
        pruned = 0
        for topic, floor in (await session.execute(floors)).all():
            gone = await session.execute(
                sa.delete(t).where(t.c.topic == topic, t.c.envelope_id < floor, t.c.processed_ns < older_than_ns)
            )
            pruned += int(gone.rowcount)  # type: ignore[attr-defined]
            await self._set_floor(session, topic, int(floor))
        return pruned
