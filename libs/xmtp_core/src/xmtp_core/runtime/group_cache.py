"""`GroupCache`: the runtime's in-memory MLS groups, handed out only under the conversation lock and only
while they are exactly what the store holds, so a transaction skips loading, decrypting and deserialising
the group state (about 10 ms at 250 members) without ever using a stale ratchet.

Validity is the stored row's version, not just its epoch: the secret tree changes with every message within
an epoch, and another process of this installation may have saved the group. The version is the Postgres
transaction id that wrote the current row (its ``xmin``): we learn our own id in the statement that takes the
lock, so a save of ours is recognised without another round trip, and any other writer changes it. A group
is taken out of the cache while a transaction uses it and put back only after that transaction committed; a
failure simply leaves it out (the next use loads it from the store).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.mls.group import Group
from xmtp_core.store import Prepared, Store
from xmtp_core.store.locks import conversation_lock_key
from xmtp_core.store.schema import group_states as t

DEFAULT_CAPACITY = 64  # conversations kept; the least recently used go first
_XID_MASK = 0xFFFFFFFF  # xmin is the 32-bit transaction id; txid_current() adds an epoch above it


@dataclass
class Lease:
    """A conversation checked out in a transaction that holds its lock; `GroupCache.group` gives its group."""

    group_id: bytes
    epoch: int  # the stored current epoch when checked out
    version: int  # the stored row's writer (xmin) when checked out
    xid: int  # our transaction's id: the version of anything we save in it
    group: Group | None = None  # the cached group (still valid) until `GroupCache.group` is asked
    loaded: bool = False
    saved: bool = False  # set by the caller when it stored ``group`` in this transaction
    consumed: bool = False  # set when ``group`` was changed without being stored (it must not come back)


@dataclass(frozen=True)
class _Entry:
    epoch: int
    version: int
    group: Group


class GroupCache:
    def __init__(self, store: Store, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.store = store
        self.capacity = capacity
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def checkout(self, s: AsyncSession, group_id: bytes) -> Lease | None:
        """Take the conversation's lock (for the rest of ``s``'s transaction) and note its stored version;
        None when there is no such group. The group itself comes from `group`, so a caller that finds
        nothing to do (a duplicate envelope) never loads it."""
        xid = await _lock(s, group_id)
        entry = self._entries.pop(group_id, None)
        current = await _current_version(s, group_id)
        if current is None:
            return None
        epoch, version = current
        valid = entry is not None and entry.epoch == epoch and entry.version == version
        return Lease(group_id, epoch, version, xid, entry.group if valid and entry is not None else None)

    async def group(self, s: AsyncSession, lease: Lease) -> Group:
        """The leased conversation's current group: the cached one, or the stored one."""
        if lease.group is not None:
            if not lease.loaded:
                self.hits += 1
                lease.loaded = True
            return lease.group
        self.misses += 1
        state = await self.store.group_states.load_current(s, lease.group_id)
        if state is None or state.epoch != lease.epoch:
            raise LookupError(f"group {lease.group_id.hex()} changed under the conversation lock")
        lease.group, lease.loaded = Group.from_bytes(state.state), True
        return lease.group

    def checkin(self, lease: Lease) -> None:
        """After the lease's transaction committed: keep its group for the next transaction."""
        if lease.consumed or lease.group is None:
            return
        version = lease.xid if lease.saved else lease.version
        self._entries[lease.group_id] = _Entry(lease.group.epoch, version, lease.group)
        self._entries.move_to_end(lease.group_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def forget(self, group_id: bytes) -> None:
        self._entries.pop(group_id, None)


# Both run for every envelope and send: built once, run on the driver (see `xmtp_core.store.Prepared`).
_LOCK = Prepared(
    sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", type_=sa.BigInteger)), sa.func.txid_current())
)
_VERSION = Prepared(
    sa.select(t.c.epoch, sa.cast(sa.literal_column(f"{t.name}.xmin"), sa.Text))
    .where(t.c.group_id == sa.bindparam("group_id", type_=sa.LargeBinary))
    .order_by(t.c.epoch.desc())
    .limit(1)
)


async def _lock(s: AsyncSession, group_id: bytes) -> int:
    """The conversation lock (`xmtp_core.store.conversation_lock`'s key) and our transaction id, in one trip."""
    row = await _LOCK.fetchrow(s, {"key": conversation_lock_key(group_id)})
    assert row is not None
    return int(row[1]) & _XID_MASK


async def _current_version(s: AsyncSession, group_id: bytes) -> tuple[int, int] | None:
    """The newest stored epoch of the group and the transaction that wrote it. (A statement of its own, after
    the lock's: in READ COMMITTED only a later statement's snapshot sees a save that committed while we waited.)"""
    row = await _VERSION.fetchrow(s, {"group_id": group_id})
    return None if row is None else (int(row[0]), int(row[1]))
