"""The outbox relay's periodic prune also folds old processed marks (below their cursor) into a floor and forgets
old refusals, so neither table grows with traffic."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from crypto.relay import PRUNE_AFTER_NS, REJECTIONS_KEPT_NS, OutboxRelay
from xmtp_core.store import EncryptionKey, KeyRing, Store, make_engine, migrate
from xmtp_core.store.rejections import Rejection
from xmtp_core.store.schema import processed_envelopes, rejected_envelopes


async def test_the_relay_prunes_marks_and_refusals(database_url: str) -> None:
    await migrate(database_url)
    store = Store(make_engine(database_url), KeyRing(EncryptionKey.generate()))
    try:
        long_ago = time.time_ns() - PRUNE_AFTER_NS - 10**9
        async with store.transaction() as s:
            for n in range(1, 11):
                await store.envelopes.mark(s, "g/1", n)
            await s.execute(sa.update(processed_envelopes).values(processed_ns=long_ago))
            await store.cursors.advance(s, "g/1", 10)
            old = time.time_ns() - REJECTIONS_KEPT_NS - 10**9
            await store.rejections.record(s, Rejection("g/1", 3, "tampered", "d", rejected_ns=old))
            await store.rejections.record(s, Rejection("g/1", 4, "tampered", "d"))
        agent: Any = SimpleNamespace(runtime=SimpleNamespace(store=store))
        relay = OutboxRelay(agent, js=None, topics=None)  # type: ignore[arg-type]
        async with store.transaction() as s:
            await relay._prune(s)
        async with store.transaction() as s:
            marks = (await s.execute(sa.select(sa.func.count()).select_from(processed_envelopes))).scalar_one()
            refusals = (await s.execute(sa.select(rejected_envelopes.c.envelope_id))).scalars().all()
            assert marks == 1 and await store.envelopes.is_processed(s, "g/1", 5)
            assert refusals == [4]
    finally:
        await store.close()
