"""Decrypted application messages, with content encrypted at rest; inserts are idempotent on the message id.

XMTP's message id is SHA-256 of the group id, the idempotency key and the content, so stored in clear it would
let a database reader confirm a guessed message; the row is keyed by a blind index of it (`blind_index`) and
the id itself is an encrypted column. Rows from before migration 0004 are keyed by the clear id: look-ups
still find them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import Columns, Prepared
from xmtp_core.store.blind_index import BlindIndex
from xmtp_core.store.cipher import FieldCipher, FieldRef
from xmtp_core.store.errors import NotFoundError
from xmtp_core.store.schema import messages as t


class DeliveryStatus(enum.StrEnum):
    """Where a message we sent stands: not yet on the node, on it, or failed."""

    UNPUBLISHED = "unpublished"
    PUBLISHED = "published"
    FAILED = "failed"


@dataclass(frozen=True)
class StoredMessage:
    """A decrypted message as stored (content hidden from reprs)."""

    id: bytes
    group_id: bytes
    sender_inbox_id: str
    sender_installation_key: bytes
    sent_ns: int
    content_type: str
    content: bytes
    delivery_status: DeliveryStatus = DeliveryStatus.PUBLISHED

    def __repr__(self) -> str:
        return f"StoredMessage(id={self.id.hex()}, content_type={self.content_type!r}, content=<hidden>)"


def _ref(row_key: bytes, column: str = "content") -> FieldRef:
    return FieldRef(t.name, column, (row_key,))


_KEYS = sa.bindparam("keys", type_=ARRAY(sa.LargeBinary))
_COLUMNS = [c.name for c in t.columns]
# Built once, run on the driver (`_util`).
_INSERT = Prepared(insert(t).on_conflict_do_nothing().returning(t.c.id), _COLUMNS)
_GET = Prepared(sa.select(t).where(t.c.id == sa.func.any(_KEYS)))
_SET_STATUS = Prepared(
    sa.update(t).where(t.c.id == sa.func.any(_KEYS)).values(delivery_status=sa.bindparam("status", type_=sa.Text))
)


class Messages:
    """Repository of decrypted messages, keyed by a blind index of XMTP's message id."""

    def __init__(self, cipher: FieldCipher) -> None:
        self._cipher = cipher
        self._index = BlindIndex(cipher, "messages.id")

    async def _keys(self, session: AsyncSession, message_id: bytes) -> list[bytes]:
        """The row keys a message id may be stored under: its blind index, or itself on a pre-0004 row."""
        return [await self._index.of(session, message_id), message_id]

    async def insert(self, session: AsyncSession, msg: StoredMessage) -> bool:
        """Store a message once; a redelivery of the same id returns False and leaves the stored row alone."""
        row_key = await self._index.of(session, msg.id)
        values = {
            "id": row_key,
            "message_id": self._cipher.encrypt(_ref(row_key, "message_id"), msg.id),
            "group_id": msg.group_id,
            "sender_inbox_id": msg.sender_inbox_id,
            "sender_installation_key": msg.sender_installation_key,
            "sent_ns": msg.sent_ns,
            "content_type": msg.content_type,
            "content": self._cipher.encrypt(_ref(row_key), msg.content),
            "delivery_status": msg.delivery_status.value,
        }
        return await _INSERT.fetchrow(session, values) is not None

    async def get(self, session: AsyncSession, message_id: bytes) -> StoredMessage | None:
        keys = await self._keys(session, message_id)
        row = await _GET.fetchrow(session, {"keys": keys})
        return None if row is None else self._from_row(row)

    async def list_for_group(
        self, session: AsyncSession, group_id: bytes, after_ns: int | None = None, limit: int = 100
    ) -> list[StoredMessage]:
        """Messages of a conversation in send order."""
        stmt = sa.select(t).where(t.c.group_id == group_id).order_by(t.c.sent_ns, t.c.id).limit(limit)
        if after_ns is not None:
            stmt = stmt.where(t.c.sent_ns > after_ns)
        return [self._from_row(r._mapping) for r in await session.execute(stmt)]

    async def set_delivery_status(self, session: AsyncSession, message_id: bytes, status: DeliveryStatus) -> None:
        keys = await self._keys(session, message_id)
        if await _SET_STATUS.execute(session, {"keys": keys, "status": status.value}) == 0:
            raise NotFoundError(f"no message {message_id.hex()}")

    def _from_row(self, m: Columns) -> StoredMessage:
        row_key = m["id"]
        stored_id = m["message_id"]
        return StoredMessage(
            id=row_key if stored_id is None else self._cipher.decrypt(_ref(row_key, "message_id"), stored_id),
            group_id=m["group_id"],
            sender_inbox_id=m["sender_inbox_id"],
            sender_installation_key=m["sender_installation_key"],
            sent_ns=m["sent_ns"],
            content_type=m["content_type"],
            content=self._cipher.decrypt(_ref(row_key), m["content"]),
            delivery_status=DeliveryStatus(m["delivery_status"]),
        )
