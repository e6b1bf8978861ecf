"""Envelopes the engine refused (tampered, replayed, not allowed, not for us ...), with the reason, for operators.

Only public facts are kept: topic, envelope id, a reason code and a detail text that never holds plaintext.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import now_ns
from xmtp_core.store.schema import rejected_envelopes as t


@dataclass(frozen=True)
class Rejection:
    """An envelope the engine refused: topic, envelope id, reason code and a cleaned detail."""

    topic: str
    envelope_id: int
    reason: str
    detail: str
    rejected_ns: int = 0


class Rejections:
    """Repository of refused envelopes, recorded once each."""

    async def record(self, session: AsyncSession, rejection: Rejection) -> bool:
        """Record once per envelope; False when it was already recorded."""
        stmt = (
            insert(t)
            .values(
                topic=rejection.topic,
                envelope_id=rejection.envelope_id,
                reason=rejection.reason,
                detail=rejection.detail,
                rejected_ns=rejection.rejected_ns or now_ns(),
            )
            .on_conflict_do_nothing()
            .returning(t.c.envelope_id)
        )
        return (await session.execute(stmt)).first() is not None

    async def list_recorded(self, session: AsyncSession, topic: str | None = None) -> list[Rejection]:
        stmt = sa.select(t).order_by(t.c.rejected_ns, t.c.envelope_id)
        if topic is not None:
            stmt = stmt.where(t.c.topic == topic)
        rows = await session.execute(stmt)
        return [
            Rejection(m["topic"], m["envelope_id"], m["reason"], m["detail"], m["rejected_ns"])
            for m in (r._mapping for r in rows)
        ]

    async def forget_after(self, session: AsyncSession, topic: str, envelope_id: int) -> int:
        """Forget refusals above ``envelope_id`` on ``topic`` (a re-joined conversation processes them anew)."""
        result = await session.execute(sa.delete(t).where(t.c.topic == topic, t.c.envelope_id > envelope_id))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def prune_older_than(self, session: AsyncSession, older_than_ns: int, *, limit: int = 10_000) -> int:
        """Forget at most ``limit`` refusals recorded before ``older_than_ns`` (they are for operators: nothing
        depends on them for correctness, the processed marks keep the envelope from being handled again)."""
        oldest = sa.select(t.c.topic, t.c.envelope_id).where(t.c.rejected_ns < older_than_ns).limit(limit)
        stmt = sa.delete(t).where(sa.tuple_(t.c.topic, t.c.envelope_id).in_(oldest))
        result = await session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]
