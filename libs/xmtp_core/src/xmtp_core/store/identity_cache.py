"""Cached identity-update logs per inbox (serialized updates by sequence id) and the last verified state.

These are public data fetched from the network, so they are stored in plain form.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import now_ns
from xmtp_core.store.schema import identity_cache as updates_t
from xmtp_core.store.schema import identity_snapshots as snapshots_t


@dataclass(frozen=True)
class CachedUpdate:
    """One identity update of an inbox, kept at its sequence id."""

    inbox_id: str
    sequence_id: int
    update: bytes


@dataclass(frozen=True)
class IdentitySnapshot:
    """A verified association state as of `sequence_id` (serialized by the identity layer)."""

    inbox_id: str
    sequence_id: int
    state: bytes
    verified_ns: int = 0


class IdentityCache:
    """Repository of identity updates and verified identity snapshots per inbox."""

    async def add_updates(self, session: AsyncSession, updates: list[CachedUpdate]) -> None:
        """Cache updates; ones already cached (same inbox and sequence id) are left as they are."""
        if not updates:
            return
        rows = [{"inbox_id": u.inbox_id, "sequence_id": u.sequence_id, "update": u.update} for u in updates]
        await session.execute(insert(updates_t).values(rows).on_conflict_do_nothing())

    async def updates(self, session: AsyncSession, inbox_id: str, after_sequence_id: int = 0) -> list[CachedUpdate]:
        rows = await session.execute(
            sa.select(updates_t)
            .where(updates_t.c.inbox_id == inbox_id, updates_t.c.sequence_id > after_sequence_id)
            .order_by(updates_t.c.sequence_id)
        )
        return [CachedUpdate(r.inbox_id, r.sequence_id, r.update) for r in rows]

    async def latest_sequence_id(self, session: AsyncSession, inbox_id: str) -> int:
        stmt = sa.select(sa.func.max(updates_t.c.sequence_id)).where(updates_t.c.inbox_id == inbox_id)
        value = (await session.execute(stmt)).scalar_one()
        return int(value) if value is not None else 0

    async def save_snapshot(self, session: AsyncSession, snap: IdentitySnapshot) -> bool:
        """Store a verified state unless a snapshot at a later sequence id is already stored."""
        stmt = insert(snapshots_t).values(
            inbox_id=snap.inbox_id,
            sequence_id=snap.sequence_id,
            state=snap.state,
            verified_ns=snap.verified_ns or now_ns(),
        )
        # The guard keeps a slower writer from replacing a newer verified state with an older one.
        guarded = stmt.on_conflict_do_update(
            index_elements=["inbox_id"],
            set_={c: stmt.excluded[c] for c in ("sequence_id", "state", "verified_ns")},
            where=snapshots_t.c.sequence_id <= stmt.excluded.sequence_id,
        )
        return (await session.execute(guarded.returning(snapshots_t.c.inbox_id))).first() is not None

    async def snapshot(self, session: AsyncSession, inbox_id: str) -> IdentitySnapshot | None:
        row = (await session.execute(sa.select(snapshots_t).where(snapshots_t.c.inbox_id == inbox_id))).one_or_none()
        return None if row is None else IdentitySnapshot(row.inbox_id, row.sequence_id, row.state, row.verified_ns)
