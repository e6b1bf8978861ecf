"""Decrypted application messages, with content encrypted at rest; inserts are idempotent on the message id."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store.cipher import FieldCipher, FieldRef
from xmtp_core.store.errors import NotFoundError
from xmtp_core.store.schema import messages as t


class DeliveryStatus(enum.StrEnum):
    UNPUBLISHED = "unpublished"
    PUBLISHED = "published"
    FAILED = "failed"


@dataclass(frozen=True)
class StoredMessage:
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


def _ref(message_id: bytes) -> FieldRef:
    return FieldRef(t.name, "content", (message_id,))


class Messages:
    def __init__(self, cipher: FieldCipher) -> None:
        self._cipher = cipher

    async def insert(self, session: AsyncSession, msg: StoredMessage) -> bool:
        """Store a message once; a redelivery of the same id returns False and leaves the stored row alone."""
        stmt = (
            insert(t)
            .values(
                id=msg.id,
                group_id=msg.group_id,
                sender_inbox_id=msg.sender_inbox_id,
                sender_installation_key=msg.sender_installation_key,
                sent_ns=msg.sent_ns,
                content_type=msg.content_type,
                content=self._cipher.encrypt(_ref(msg.id), msg.content),
                delivery_status=msg.delivery_status.value,
            )
            .on_conflict_do_nothing()
            .returning(t.c.id)
        )
        return (await session.execute(stmt)).first() is not None

    async def get(self, session: AsyncSession, message_id: bytes) -> StoredMessage | None:
        row = (await session.execute(sa.select(t).where(t.c.id == message_id))).one_or_none()
        return None if row is None else self._from_row(row)

    async def list_for_group(
        self, session: AsyncSession, group_id: bytes, after_ns: int | None = None, limit: int = 100
    ) -> list[StoredMessage]:
        """Messages of a conversation in send order."""
        stmt = sa.select(t).where(t.c.group_id == group_id).order_by(t.c.sent_ns, t.c.id).limit(limit)
        if after_ns is not None:
            stmt = stmt.where(t.c.sent_ns > after_ns)
        return [self._from_row(r) for r in await session.execute(stmt)]

    async def set_delivery_status(self, session: AsyncSession, message_id: bytes, status: DeliveryStatus) -> None:
        result = await session.execute(sa.update(t).where(t.c.id == message_id).values(delivery_status=status.value))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFoundError(f"no message {message_id.hex()}")

    def _from_row(self, row: sa.Row[tuple[object, ...]]) -> StoredMessage:
        m = row._mapping
        return StoredMessage(
            id=m["id"],
            group_id=m["group_id"],
            sender_inbox_id=m["sender_inbox_id"],
            sender_installation_key=m["sender_installation_key"],
            sent_ns=m["sent_ns"],
            content_type=m["content_type"],
            content=self._cipher.decrypt(_ref(m["id"]), m["content"]),
            delivery_status=DeliveryStatus(m["delivery_status"]),
        )
