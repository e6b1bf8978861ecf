"""Conversations (DMs and groups) this installation is in, their lifecycle state and their member inboxes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.envelopes import ConversationKind as ConversationKind  # re-exported by xmtp_core.store
from xmtp_core.store._util import Columns, Prepared
from xmtp_core.store.errors import NotFoundError
from xmtp_core.store.schema import conversation_members as members_t
from xmtp_core.store.schema import conversations as t

_GET = Prepared(sa.select(t).where(t.c.group_id == sa.bindparam("group_id", type_=sa.LargeBinary)))  # `_util`


class ConversationState(enum.StrEnum):
    """Whether we are still a member of a conversation."""

    ACTIVE = "active"
    LEFT = "left"


@dataclass(frozen=True)
class Conversation:
    """A DM or group this installation is (or was) a member of."""

    group_id: bytes
    kind: ConversationKind
    created_ns: int
    dm_peer_inbox_id: str | None = None
    state: ConversationState = ConversationState.ACTIVE

    def __post_init__(self) -> None:
        if (self.kind is ConversationKind.DM) != (self.dm_peer_inbox_id is not None):
            raise ValueError("a DM needs dm_peer_inbox_id and a group must not have one")


class Conversations:
    """Repository of conversations and their member inboxes."""

    async def save(self, session: AsyncSession, conv: Conversation) -> bool:
        """Record a conversation; returns False (and changes nothing) when it is already known."""
        stmt = (
            insert(t)
            .values(
                group_id=conv.group_id,
                kind=conv.kind.value,
                dm_peer_inbox_id=conv.dm_peer_inbox_id,
                created_ns=conv.created_ns,
                state=conv.state.value,
            )
            .on_conflict_do_nothing()
            .returning(t.c.group_id)
        )
        return (await session.execute(stmt)).first() is not None

    async def get(self, session: AsyncSession, group_id: bytes) -> Conversation | None:
        row = await _GET.fetchrow(session, {"group_id": group_id})
        return None if row is None else _from_row(row)

    async def list_by_state(
        self, session: AsyncSession, state: ConversationState | None = ConversationState.ACTIVE
    ) -> list[Conversation]:
        stmt = sa.select(t).order_by(t.c.created_ns, t.c.group_id)
        if state is not None:
            stmt = stmt.where(t.c.state == state.value)
        return [_from_row(r._mapping) for r in await session.execute(stmt)]

    async def find_dm(self, session: AsyncSession, peer_inbox_id: str) -> Conversation | None:
        """The oldest active DM with a peer (duplicates can exist when both sides created one at once)."""
        stmt = (
            sa.select(t)
            .where(t.c.kind == "dm", t.c.dm_peer_inbox_id == peer_inbox_id, t.c.state == "active")
            .order_by(t.c.created_ns, t.c.group_id)
            .limit(1)
        )
        row = (await session.execute(stmt)).one_or_none()
        return None if row is None else _from_row(row._mapping)

    async def set_state(self, session: AsyncSession, group_id: bytes, state: ConversationState) -> None:
        result = await session.execute(sa.update(t).where(t.c.group_id == group_id).values(state=state.value))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFoundError(f"no conversation {group_id.hex()}")

    async def set_members(self, session: AsyncSession, group_id: bytes, inbox_ids: set[str] | list[str]) -> None:
        """Replace the member list with the inboxes of the group's current epoch."""
        await session.execute(sa.delete(members_t).where(members_t.c.group_id == group_id))
        if inbox_ids:
            rows = [{"group_id": group_id, "inbox_id": i} for i in sorted(set(inbox_ids))]
            await session.execute(insert(members_t).values(rows))

    async def members(self, session: AsyncSession, group_id: bytes) -> list[str]:
        stmt = sa.select(members_t.c.inbox_id).where(members_t.c.group_id == group_id).order_by(members_t.c.inbox_id)
        return list((await session.execute(stmt)).scalars())


def _from_row(m: Columns) -> Conversation:
    return Conversation(
        group_id=m["group_id"],
        kind=ConversationKind(m["kind"]),
        created_ns=m["created_ns"],
        dm_peer_inbox_id=m["dm_peer_inbox_id"],
        state=ConversationState(m["state"]),
    )
