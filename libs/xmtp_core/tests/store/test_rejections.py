"""Rejected-envelope records: one per envelope, listed per topic in the order they were recorded."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from xmtp_core.store import Rejection, Store


async def test_record_once_and_list(store: Store, session: AsyncSession) -> None:
    async with session.begin():
        assert await store.rejections.record(session, Rejection("group:aa", 7, "duplicate", "generation used", 1))
        assert not await store.rejections.record(session, Rejection("group:aa", 7, "other", "again", 2))
        assert await store.rejections.record(session, Rejection("welcome:bb", 9, "welcome_not_for_us", "no key", 3))
    async with session.begin():
        assert await store.rejections.list_recorded(session, "group:aa") == [
            Rejection("group:aa", 7, "duplicate", "generation used", 1)
        ]
        assert [r.envelope_id for r in await store.rejections.list_recorded(session)] == [7, 9]
