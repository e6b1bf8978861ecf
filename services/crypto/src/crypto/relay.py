"""The outbox relay: an agent's events, written with the envelopes that produced them, onto SB_EV.

One relay at a time per agent (a Postgres advisory lock taken in the claiming transaction), so a conversation's
events reach the stream in the order they were written even with several crypto replicas. Each event is
published with `Nats-Msg-Id` = agent + event id and marked delivered only after its PubAck, in the claiming
transaction: a crash in between publishes it again and JetStream's duplicate window drops the copy. A join also
puts the group's topic into KV `sb_topics`, so ingest follows it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import sqlalchemy as sa
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from sqlalchemy.ext.asyncio import AsyncSession
from xmtp_core import telemetry
from xmtp_core.bus import kv as bus_kv
from xmtp_core.bus.client import publish_event
from xmtp_core.bus.schemas import JoinedEvent
from xmtp_core.engine import ConversationJoined
from xmtp_core.runtime.outbox import from_outbox
from xmtp_core.store import Prepared
from xmtp_core.untrusted import clean_error

from crypto.agents import Agent
from crypto.events import bus_event

log = logging.getLogger(__name__)

BATCH = 256
POLL_S = 0.5  # after a failure, or when another replica held the relay lock
# Drained, with the lock: this process's own commits wake the relay at once, so the poll is only for events
# another replica wrote and could not relay (it died in between, or found the lock held and polls itself).
IDLE_POLL_S = 5.0
PRUNE_AFTER_NS = 3 * 60 * 60 * 10**9  # delivered events kept past the bus's 2 h duplicate window, then pruned
REJECTIONS_KEPT_NS = 30 * 24 * 60 * 60 * 10**9  # refusals are for operators; SB_DLQ keeps dead letters as long
_RELAY_LOCK = 0x73625F72656C  # "sb_rel"
_TRY_LOCK = Prepared(sa.select(sa.func.pg_try_advisory_xact_lock(_RELAY_LOCK)))  # it runs at every wake-up


class OutboxRelay:
    def __init__(self, agent: Agent, js: JetStreamContext, topics: KeyValue) -> None:
        self.agent = agent
        self.js = js
        self.topics = topics
        self.published = 0
        self.contended = False  # the last claim found the relay lock held by another replica
        self._last_prune = 0.0

    async def run(self) -> None:
        """Relay until cancelled: at once when this process wrote events, else every `IDLE_POLL_S` (`POLL_S`
        after a failure or while another replica relays: an idle agent costs a claim per `IDLE_POLL_S`)."""
        ready = self.agent.runtime.core.events_ready
        while True:
            # Cleared before the claim: an envelope committed after it sets the flag again, so a batch short of
            # `BATCH` means nothing is left (no second, empty claim per event: a transaction saved per echo).
            ready.clear()
            try:
                moved = await self.relay_once()
            except Exception as exc:  # Postgres or NATS away: try again shortly, nothing is lost
                log.warning("outbox relay of %s: %s", self.agent.name, clean_error(exc))
                moved, self.contended = 0, True
                await asyncio.sleep(POLL_S)
            if moved >= BATCH:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_S if self.contended else IDLE_POLL_S):
                    await ready.wait()

    async def relay_once(self) -> int:
        """Publish one batch of pending events; returns how many."""
        runtime = self.agent.runtime
        store = runtime.store
        async with store.transaction() as s:
            got = bool((await _TRY_LOCK.fetch(s, {}))[0][0])
            self.contended = not got
            if not got:
                return 0  # another replica relays this agent now
            rows = await store.outbox.claim(s, BATCH)
            for row in rows:
                delivered = from_outbox(row, runtime.registry)
                conv, event = bus_event(self.agent.name, row.event_id, delivered.event, self.agent.inbox_id)
                with telemetry.continue_trace(row.event_id.rsplit(":", 1)[0]):  # the SB_IN message's trace
                    await publish_event(self.js, event)
                if isinstance(event, JoinedEvent) and isinstance(delivered.event, ConversationJoined):
                    # Ingest follows the group from the Welcome's cursor (what is older predates us).
                    await bus_kv.put_topic(self.topics, self.agent.name, conv, delivered.event.message_cursor)
            await store.outbox.mark_delivered(s, [r.event_id for r in rows])
            await self._prune(s)
        self.published += len(rows)
        return len(rows)

    async def _prune(self, s: AsyncSession) -> None:
        now = time.monotonic()
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        store, now_ns = self.agent.runtime.store, time.time_ns()
        await store.outbox.prune_delivered(s, now_ns - PRUNE_AFTER_NS)
        # Marks past the same horizon, at or below their topic's cursor, fold into a floor (nothing is forgotten).
        await store.envelopes.prune_processed(s, now_ns - PRUNE_AFTER_NS)
        await store.rejections.prune_older_than(s, now_ns - REJECTIONS_KEPT_NS)
