"""Serialized MLS group state per (group, epoch), encrypted; the current epoch plus a bounded number of past ones.

Past epochs are kept so messages that arrive late (sent before a commit) can still be decrypted; anything
older than `max_past_epochs` behind the newest epoch is deleted, which also destroys its secrets.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import Columns, Prepared, now_ns, upsert_statement
from xmtp_core.store.cipher import FieldCipher, FieldRef
from xmtp_core.store.schema import group_states as t

DEFAULT_MAX_PAST_EPOCHS = 3  # libxmtp's MAX_PAST_EPOCHS


@dataclass(frozen=True)
class GroupState:
    """A group's serialised MLS state at one epoch (encrypted at rest)."""

    group_id: bytes
    epoch: int
    state: bytes

    def __repr__(self) -> str:
        return f"GroupState(group_id={self.group_id.hex()}, epoch={self.epoch}, state=<{len(self.state)} bytes>)"


def _ref(group_id: bytes, epoch: int) -> FieldRef:
    return FieldRef(t.name, "state", (group_id, epoch))


class GroupStates:
    """Repository of group states: the current epoch and a few past ones for late messages."""

    def __init__(self, cipher: FieldCipher, max_past_epochs: int = DEFAULT_MAX_PAST_EPOCHS) -> None:
        if max_past_epochs < 0:
            raise ValueError("max_past_epochs must be >= 0")
        self._cipher = cipher
        self.max_past_epochs = max_past_epochs

    async def save(self, session: AsyncSession, gs: GroupState, *, prune: bool = True) -> int:
        """Store the state of one epoch (replacing that epoch), then prune; returns how many epochs were pruned.
        ``prune=False`` skips the pruning statement for a caller that knows no new epoch was added."""
        if gs.epoch < 0:
            raise ValueError("epoch must be >= 0")
        values = {
            "group_id": gs.group_id,
            "epoch": gs.epoch,
            "state": self._cipher.encrypt(_ref(gs.group_id, gs.epoch), gs.state),
            "saved_ns": now_ns(),
        }
        await _SAVE.execute(session, values)
        return await self.prune(session, gs.group_id) if prune else 0

    async def load_current(self, session: AsyncSession, group_id: bytes) -> GroupState | None:
        row = await _LOAD_CURRENT.fetchrow(session, {"group_id": group_id})
        return None if row is None else self._from_row(row)

    async def current_epoch(self, session: AsyncSession, group_id: bytes) -> int | None:
        """The newest stored epoch (None without a state), read without loading the state."""
        row = await _CURRENT_EPOCH.fetchrow(session, {"group_id": group_id})
        return None if row is None or row[0] is None else int(row[0])

    async def load_epoch(self, session: AsyncSession, group_id: bytes, epoch: int) -> GroupState | None:
        row = (await session.execute(sa.select(t).where(t.c.group_id == group_id, t.c.epoch == epoch))).one_or_none()
        return None if row is None else self._from_row(row._mapping)

    async def epochs(self, session: AsyncSession, group_id: bytes) -> list[int]:
        stmt = sa.select(t.c.epoch).where(t.c.group_id == group_id).order_by(t.c.epoch)
        return list((await session.execute(stmt)).scalars())

    async def prune(self, session: AsyncSession, group_id: bytes, max_past_epochs: int | None = None) -> int:
        """Delete epochs more than `max_past_epochs` below the newest; returns the number deleted."""
        keep = self.max_past_epochs if max_past_epochs is None else max_past_epochs
        return await _PRUNE.execute(session, {"group_id": group_id, "keep": keep})

    async def delete_group(self, session: AsyncSession, group_id: bytes) -> None:
        await session.execute(sa.delete(t).where(t.c.group_id == group_id))

    def _from_row(self, m: Columns) -> GroupState:
        return GroupState(m["group_id"], m["epoch"], self._cipher.decrypt(_ref(m["group_id"], m["epoch"]), m["state"]))


# Built once, run on the driver (`_util`).
_GROUP = sa.bindparam("group_id", type_=sa.LargeBinary)
_SAVED = ["group_id", "epoch", "state", "saved_ns"]
_SAVE = Prepared(upsert_statement(t, _SAVED), _SAVED)
_LOAD_CURRENT = Prepared(sa.select(t).where(t.c.group_id == _GROUP).order_by(t.c.epoch.desc()).limit(1))
_CURRENT_EPOCH = Prepared(sa.select(sa.func.max(t.c.epoch)).where(t.c.group_id == _GROUP))
_PRUNE = Prepared(
    sa.delete(t).where(
        t.c.group_id == _GROUP,
        t.c.epoch
        < sa.select(sa.func.max(t.c.epoch)).where(t.c.group_id == _GROUP).scalar_subquery()
        - sa.bindparam("keep", type_=sa.BigInteger),
    )
)
