"""The outbox: every event an envelope produces, stored in that envelope's transaction (with its MLS state,
cursor and dedup mark), then handed to whoever delivers events (the runtime's stream, or the crypto service's
JetStream publisher) and marked delivered.

Events are claimed in commit-safe order per conversation: writers of one conversation hold its advisory lock,
so a later event of a conversation always has a higher ``seq`` and commits after the earlier one. Claims use
``FOR UPDATE SKIP LOCKED`` so several deliverers never hand out the same row at once; delivery is at least
once (a crash after handing out and before marking repeats it), which the bus absorbs by the event id.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import Columns, Prepared, now_ns
from xmtp_core.store.cipher import FieldCipher, FieldRef
from xmtp_core.store.schema import outbox as t


@dataclass(frozen=True)
class OutboxEvent:
    """One event owed to the application: its stable id, conversation, kind and (encrypted) payload."""

    event_id: str
    conversation: bytes
    kind: str
    payload: bytes
    seq: int = 0

    def __repr__(self) -> str:
        return f"OutboxEvent(event_id={self.event_id!r}, kind={self.kind!r}, seq={self.seq}, payload=<hidden>)"


def _ref(event_id: str) -> FieldRef:
    return FieldRef(t.name, "payload", (event_id,))


# Built once, run on the driver (`_util`).
_ADD = Prepared(
    insert(t).on_conflict_do_nothing().returning(t.c.seq),
    ["event_id", "conversation", "kind", "payload", "created_ns"],
)
_CLAIM = Prepared(
    sa.select(t)
    .where(t.c.delivered_ns.is_(None))
    .order_by(t.c.seq)
    .limit(sa.bindparam("limit", type_=sa.Integer))
    .with_for_update(skip_locked=True)
)
_DELIVERED = Prepared(
    sa.update(t)
    .where(t.c.event_id == sa.func.any(sa.bindparam("event_ids", type_=ARRAY(sa.Text))))
    .values(delivered_ns=sa.bindparam("now", type_=sa.BigInteger))
)


class Outbox:
    """Repository of the outbox: events written with their envelope, claimed and marked delivered."""

    def __init__(self, cipher: FieldCipher) -> None:
        self._cipher = cipher

    async def add(self, session: AsyncSession, event: OutboxEvent) -> bool:
        """Store an event once; the same event id again (a redelivered envelope) is a no-op returning False."""
        values = {
            "event_id": event.event_id,
            "conversation": event.conversation,
            "kind": event.kind,
            "payload": self._cipher.encrypt(_ref(event.event_id), event.payload),
            "created_ns": now_ns(),
        }
        return await _ADD.fetchrow(session, values) is not None

    async def claim(self, session: AsyncSession, limit: int = 100) -> list[OutboxEvent]:
        """Up to ``limit`` undelivered events in ``seq`` order, locked for this transaction; rows another
        transaction holds are skipped (they are that deliverer's)."""
        return [self._from_row(r) for r in await _CLAIM.fetch(session, {"limit": limit})]

    async def mark_delivered(self, session: AsyncSession, event_ids: list[str]) -> None:
        if event_ids:
            await _DELIVERED.execute(session, {"event_ids": event_ids, "now": now_ns()})

    async def pending_count(self, session: AsyncSession) -> int:
        stmt = sa.select(sa.func.count()).select_from(t).where(t.c.delivered_ns.is_(None))
        return int((await session.execute(stmt)).scalar_one())

    async def prune_delivered(self, session: AsyncSession, before_ns: int) -> int:
        """Forget events delivered before ``before_ns`` (the bus's duplicate window has passed for them)."""
        result = await session.execute(sa.delete(t).where(t.c.delivered_ns < before_ns))
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _from_row(self, m: Columns) -> OutboxEvent:
        payload = self._cipher.decrypt(_ref(m["event_id"]), m["payload"])
        return OutboxEvent(m["event_id"], m["conversation"], m["kind"], payload, m["seq"])
