"""Processed-envelope log: makes at-least-once delivery idempotent by remembering which envelopes were handled."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import now_ns
from xmtp_core.store.schema import processed_envelopes as t


class ProcessedEnvelopes:
    """Repository of processed-envelope marks, which make at-least-once delivery idempotent."""

    async def mark(
        self, session: AsyncSession, topic: str, envelope_id: int, envelope_hash: bytes | None = None
    ) -> bool:
        """Record an envelope as processed; False means it already was (the caller must skip its effects).

        Call it in the same transaction as the effects so both commit or neither does.
        """
        stmt = (
            insert(t)
            .values(topic=topic, envelope_id=envelope_id, envelope_hash=envelope_hash, processed_ns=now_ns())
            .on_conflict_do_nothing()
            .returning(t.c.envelope_id)
        )
        return (await session.execute(stmt)).first() is not None

    async def is_processed(self, session: AsyncSession, topic: str, envelope_id: int) -> bool:
        stmt = sa.select(sa.literal(1)).where(t.c.topic == topic, t.c.envelope_id == envelope_id)
        return (await session.execute(stmt)).first() is not None

    async def is_hash_processed(self, session: AsyncSession, envelope_hash: bytes) -> bool:
        """For envelopes seen before the node assigned an id (e.g. our own, matched by content hash)."""
        stmt = sa.select(sa.literal(1)).where(t.c.envelope_hash == envelope_hash).limit(1)
        return (await session.execute(stmt)).first() is not None

    async def prune_before(self, session: AsyncSession, topic: str, envelope_id: int) -> int:
        """Forget entries at or below a cursor that has durably moved past them."""
        result = await session.execute(sa.delete(t).where(t.c.topic == topic, t.c.envelope_id <= envelope_id))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def forget_after(self, session: AsyncSession, topic: str, envelope_id: int) -> int:
        """Forget entries above ``envelope_id`` (a re-joined conversation processes them anew)."""
        result = await session.execute(sa.delete(t).where(t.c.topic == topic, t.c.envelope_id > envelope_id))
        return int(result.rowcount)  # type: ignore[attr-defined]
