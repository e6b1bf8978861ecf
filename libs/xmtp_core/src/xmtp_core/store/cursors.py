"""Per-topic stream cursors: the last envelope id processed on each topic. They only ever move forward."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import Prepared
from xmtp_core.store.schema import cursors as t


def _advance_statement() -> sa.Insert:
    stmt = insert(t)
    guarded = stmt.on_conflict_do_update(
        index_elements=[t.c.topic],
        set_={"last_id": stmt.excluded.last_id},
        where=t.c.last_id < stmt.excluded.last_id,
    )
    return guarded.returning(t.c.last_id)


# Built once, run on the driver (`_util`).
_ADVANCE = Prepared(_advance_statement(), ["topic", "last_id"])
_GET = Prepared(sa.select(t.c.last_id).where(t.c.topic == sa.bindparam("topic", type_=sa.Text)))


class Cursors:
    """Repository of per-topic cursors: the last envelope id processed, never moving back but on a re-join."""

    async def get(self, session: AsyncSession, topic: str) -> int:
        """The last processed id on a topic, 0 if nothing was processed yet."""
        row = await _GET.fetchrow(session, {"topic": topic})
        return 0 if row is None else int(row[0])

    async def get_many(self, session: AsyncSession, topics: list[str]) -> dict[str, int]:
        rows = await session.execute(sa.select(t.c.topic, t.c.last_id).where(t.c.topic.in_(topics)))
        found = {r.topic: int(r.last_id) for r in rows}
        return {topic: found.get(topic, 0) for topic in topics}

    async def advance(self, session: AsyncSession, topic: str, last_id: int) -> bool:
        """Move the cursor to `last_id` if that is ahead of it; returns whether it moved.

        Done in one statement so two writers racing on a topic can never move it backwards.
        """
        if last_id < 0:
            raise ValueError("cursor ids are >= 0")
        return await _ADVANCE.fetchrow(session, {"topic": topic, "last_id": last_id}) is not None

    async def rewind(self, session: AsyncSession, topic: str, last_id: int) -> None:
        """Set the cursor back to ``last_id`` (only when a conversation is joined again: what came after it
        is to be processed anew)."""
        if last_id < 0:
            raise ValueError("cursor ids are >= 0")
        stmt = insert(t).values(topic=topic, last_id=last_id)
        await session.execute(stmt.on_conflict_do_update(index_elements=[t.c.topic], set_={"last_id": last_id}))
