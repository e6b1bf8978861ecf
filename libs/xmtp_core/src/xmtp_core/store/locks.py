"""Per-conversation mutual exclusion that holds across processes: a Postgres transaction-scoped advisory lock."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import Prepared

_LOCK_DOMAIN = b"xmtp-core/store/conversation-lock\x00"


def conversation_lock_key(group_id: bytes) -> int:
    """A stable signed 64-bit key for a group id (the same in every process and Python version, unlike hash())."""
    digest = hashlib.sha256(_LOCK_DOMAIN + group_id).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@asynccontextmanager
async def conversation_lock(session: AsyncSession, group_id: bytes) -> AsyncIterator[AsyncSession]:
    """Hold the conversation's lock for the rest of the session's transaction.

    Without an open transaction, the block becomes one: it commits on normal exit (releasing the lock) and
    rolls back on error. Inside a caller's transaction, the lock lasts until that transaction ends, because
    Postgres releases transaction-level advisory locks only at commit/rollback.
    """
    if session.in_transaction():
        await _acquire(session, group_id)
        yield session
        return
    async with session.begin():
        await _acquire(session, group_id)
        yield session


_LOCK = Prepared(sa.select(sa.func.pg_advisory_xact_lock(sa.bindparam("key", type_=sa.BigInteger))))


async def _acquire(session: AsyncSession, group_id: bytes) -> None:
    await _LOCK.fetch(session, {"key": conversation_lock_key(group_id)})
