"""Ingest: every envelope of every agent installation, from the node into SB_IN, once, in node order per topic.

For each agent in KV `sb_agents` (filtered by `SB_AGENTS`), ingest follows the agent's welcome topic and every
group topic in KV `sb_topics`: it first pages each topic from its cursor (`iter_group_messages` /
`iter_welcome_messages`), then streams them. The streams are shared by every agent of the process (`NodeStreams`:
one group stream and one welcome stream per 10,000 topics, each reconnecting with backoff), because a node
holds few streams per connection (devnode: 64 per kind) and 100 agents would need 200. Each envelope
is published to `sb.in.<agent>.<conv>` with `Nats-Msg-Id` `<node topic>:<envelope id>`; a topic's cursor (KV
`sb_ingest_cursors`) moves only after the PubAck of that envelope and of every earlier one. A group envelope
carries `prev_id`, the envelope before it on its topic as read here: the stream keeps the order publishes were
sent in only while its leader lives (in an election, publishes to the old leader are lost while later ones
land on the new one, and the lost ones come again after them), so crypto pulls from the node whatever came
between its cursor and `prev_id` before it handles an envelope.

Publishes are pipelined on one connection (stored in the order sent), at most `SB_MAX_IN_FLIGHT` per agent
waiting for their PubAck; at the bound the agent stops reading its node streams (backpressure). After any
failure the agent starts again from its stored cursors: what was published but not yet recorded is published
again and dropped by the stream as a duplicate. A topic added to `sb_topics` while the streams are open is added
to the open subscription at once. An envelope over the bus's caps is dead-lettered (`sb.dlq.ingest`), and the
cursor moves past it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.kv import KeyValue
from xmtp_core import telemetry
from xmtp_core.bus import kv as bus_kv
from xmtp_core.bus import subjects
from xmtp_core.bus.schemas import DeadLetter, SchemaError, dump, envelope_from_node, parse
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import DLQ, IN
from xmtp_core.cancellation import raise_if_cancelling
from xmtp_core.node import (
    Backoff,
    BackoffPolicy,
    GroupMessage,
    NodeClient,
    SharedReader,
    SharedSubscriptions,
    WelcomeMessage,
)
from xmtp_core.untrusted import clean_error

log = logging.getLogger(__name__)

Envelope = GroupMessage | WelcomeMessage
FLUSH_EVERY = 256


@dataclass
class _Pending:
    conv: str
    envelope_id: int
    ack: asyncio.Future[PubAck]


@dataclass
class NodeStreams:
    """The node streams every agent of one ingest reads through: group messages and welcomes."""

    groups: SharedSubscriptions[GroupMessage]
    welcomes: SharedSubscriptions[WelcomeMessage]

    @classmethod
    def of(cls, node: NodeClient, backoff: BackoffPolicy) -> NodeStreams:
        return cls(
            SharedSubscriptions(lambda cursors: node.subscribe_group_messages(cursors, backoff=backoff)),
            SharedSubscriptions(lambda cursors: node.subscribe_welcome_messages(cursors, backoff=backoff)),
        )

    async def aclose(self) -> None:
        await self.groups.aclose()
        await self.welcomes.aclose()


@dataclass
class AgentIngest:
    """One agent's topics into SB_IN. `run` until cancelled; `follow` adds a group topic at any time."""

    agent: str
    installation_key: bytes
    node: NodeClient
    js: JetStreamContext
    cursors_kv: KeyValue
    settings: BusSettings
    topics: dict[str, int] = field(default_factory=dict)  # group conv -> start cursor
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    ack_timeout_s: float = 10.0
    streams: NodeStreams | None = None  # shared with the other agents; its own when None
    published: int = 0
    _groups: SharedReader[GroupMessage] | None = None
    _prev: dict[str, int] = field(default_factory=dict)  # group conv -> the last envelope id read this run

    def follow(self, conv: str, start: int) -> None:
        if subjects.conv_token(conv)[0] != "g" or conv in self.topics:
            return
        self.topics[conv] = start
        if self._groups is not None:
            self._prev.setdefault(conv, start)
            self._groups.add(subjects.topic_bytes(conv), start)  # the stream re-opens with every cursor

    async def run(self) -> None:
        backoff = Backoff(self.backoff)
        while True:
            before = self.published
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelling()  # nats-py can turn a stop into a timeout or a connection error
                if self.published > before:
                    backoff.reset()  # that run got somewhere: the next failure starts from the short delay
                delay = backoff.next_delay() or self.backoff.maximum_s
                reason = clean_error(exc)
                log.warning("ingest %s: %s; starting again from the cursors in %.1fs", self.agent, reason, delay)
                await asyncio.sleep(delay)

    async def _cursor(self, conv: str, start: int) -> int:
        stored = await bus_kv.get_cursor(self.cursors_kv, self.agent, conv)
        return max(start, stored or 0)

    async def _run_once(self) -> None:
        welcome = subjects.welcome_conv(self.installation_key)
        cursors = {welcome: await self._cursor(welcome, 0)}
        for conv, start in list(self.topics.items()):
            cursors[conv] = await self._cursor(conv, start)
        self._prev = {conv: cursor for conv, cursor in cursors.items() if conv[0] == "g"}
        window: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=self.settings.max_in_flight)
        if self.streams is None:
            self.streams = NodeStreams.of(self.node, self.backoff)
        welcomes: SharedReader[WelcomeMessage] | None = None
        try:
            # A failed PubAck ends the acker, which cancels this body (sync or streams): start again from the cursors.
            async with asyncio.TaskGroup() as group:
                group.create_task(self._ack_in_order(window, dict(cursors)))
                for conv, cursor in list(cursors.items()):
                    async for item in self._sync(conv, cursor):
                        await self._send(window, conv, item)
                        cursors[conv] = item.id
                group_cursors = {subjects.topic_bytes(c): v for c, v in cursors.items() if c[0] == "g"}
                self._groups = self.streams.groups.reader(group_cursors)
                # Topics added while syncing are in `self.topics` but not yet in the subscription.
                for conv, start in self.topics.items():
                    cursor = await self._cursor(conv, start)
                    self._prev.setdefault(conv, cursor)
                    self._groups.add(subjects.topic_bytes(conv), cursor)
                welcomes = self.streams.welcomes.reader({self.installation_key: cursors[welcome]})
                group.create_task(self._pump(self._groups, window))
                group.create_task(self._pump(welcomes, window))
        finally:
            if self._groups is not None:
                await self._groups.aclose()
                self._groups = None
            if welcomes is not None:
                await welcomes.aclose()

    def _sync(self, conv: str, cursor: int) -> AsyncIterator[Envelope]:
        topic = subjects.topic_bytes(conv)
        if conv[0] == "w":
            return self.node.iter_welcome_messages(topic, cursor=cursor)
        return self.node.iter_group_messages(topic, cursor=cursor)

    async def _pump(
        self, source: SharedReader[GroupMessage] | SharedReader[WelcomeMessage], window: asyncio.Queue[_Pending]
    ) -> None:
        async for item in source:
            conv = (subjects.group_conv if isinstance(item, GroupMessage) else subjects.welcome_conv)(item.topic)
            await self._send(window, conv, item)

    async def _send(self, window: asyncio.Queue[_Pending], conv: str, item: Envelope) -> None:
        msg_id = subjects.inbound_msg_id(conv, item.id)
        try:
            payload = dump(envelope_from_node(self.agent, item, self._prev_of(conv, item)))
            subject, stream = subjects.inbound(self.agent, conv), IN.name
        except SchemaError as exc:
            subject = subjects.inbound(self.agent, conv)
            letter = DeadLetter.build("ingest", exc.reason, item.data, msg_id=msg_id, subject=subject)
            payload, subject, stream = dump(letter), subjects.dead_letter("ingest"), DLQ.name
            telemetry.DEAD_LETTERS.labels("ingest").inc()
        headers = {subjects.MSG_ID_HEADER: msg_id}
        # Written to the one connection in this order, so the stream stores a topic's envelopes in node order.
        with telemetry.producer_span(stream, headers):  # each inbound envelope starts its trace here
            ack = await self.js.publish_async(subject, payload, stream=stream, headers=headers)
        telemetry.MESSAGES_OUT.labels("ingest", stream, "none").inc()
        await window.put(_Pending(conv, item.id, ack))  # blocks at SB_MAX_IN_FLIGHT: backpressure

    def _prev_of(self, conv: str, item: Envelope) -> int | None:
        """The envelope before ``item`` on its topic (None for a welcome, or one read again after a rewind)."""
        last = self._prev.get(conv)
        if not isinstance(item, GroupMessage) or last is None or item.id <= last:
            return None
        self._prev[conv] = item.id
        return last

    async def _ack_in_order(self, window: asyncio.Queue[_Pending], cursors: dict[str, int]) -> None:
        # Cursors are written when the window drains, and at least every FLUSH_EVERY PubAcks under a steady
        # stream: a crash republishes at most that many (well inside the duplicate window).
        dirty: dict[str, int] = {}
        since_flush = 0
        while True:
            raise_if_cancelling()  # a stop that nats-py's KV put swallowed
            pending = await window.get()
            async with asyncio.timeout(self.ack_timeout_s):  # raises on failure or silence
                await pending.ack
            self.published += 1
            since_flush += 1
            if pending.envelope_id > cursors.get(pending.conv, 0):
                cursors[pending.conv] = dirty[pending.conv] = pending.envelope_id
            if dirty and (window.empty() or since_flush >= FLUSH_EVERY):
                for conv, cursor in dirty.items():
                    await bus_kv.put_cursor(self.cursors_kv, self.agent, conv, cursor)
                dirty.clear()
                since_flush = 0


class Ingest:
    """Every agent of `sb_agents` (or of `SB_AGENTS`), each with its own `AgentIngest` task on shared streams."""

    def __init__(
        self,
        node: NodeClient,
        js: JetStreamContext,
        buckets: dict[str, KeyValue],
        settings: BusSettings,
        *,
        backoff: BackoffPolicy | None = None,
    ) -> None:
        self._node = node
        self._js = js
        self._buckets = buckets
        self._settings = settings
        self._backoff = backoff or BackoffPolicy()
        self.streams = NodeStreams.of(node, self._backoff)
        self.agents: dict[str, AgentIngest] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._topics: dict[str, dict[str, int]] = {}

    def _wanted(self, agent: str) -> bool:
        return not self._settings.agents or agent in self._settings.agents

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._watch_agents())
                group.create_task(self._watch_topics())
        finally:
            for task in self._tasks.values():
                task.cancel()
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
            await self.streams.aclose()

    async def _watch_agents(self) -> None:
        watcher = await self._buckets[subjects.KV_AGENTS].watchall()
        async for entry in watcher:
            if entry is None or entry.value is None or entry.operation is not None:
                continue  # the end-of-initial-values marker, or a delete (an agent keeps running until restart)
            try:
                agent = subjects.agent_token(entry.key)
                record = parse(bus_kv.AgentRecord, entry.value)
            except (SchemaError, subjects.SubjectError) as exc:
                log.warning("sb_agents: ignoring an unreadable entry: %s", clean_error(exc))
                continue
            if not self._wanted(agent) or agent in self.agents:
                continue
            worker = AgentIngest(
                agent,
                bytes.fromhex(record.installation_key),
                self._node,
                self._js,
                self._buckets[subjects.KV_INGEST_CURSORS],
                self._settings,
                topics=self._topics.pop(agent, {}),
                backoff=self._backoff,
                streams=self.streams,
            )
            self.agents[agent] = worker
            self._tasks[agent] = asyncio.create_task(worker.run(), name=f"ingest-{agent}")

    async def _watch_topics(self) -> None:
        watcher = await self._buckets[subjects.KV_TOPICS].watchall()
        async for entry in watcher:
            if entry is None or entry.value is None or entry.operation is not None:
                continue
            try:
                agent, conv = subjects.parse_kv_topic_key(entry.key)
                start = parse(bus_kv.TopicStart, entry.value).cursor
            except (SchemaError, subjects.SubjectError) as exc:
                log.warning("sb_topics: ignoring an unreadable entry: %s", clean_error(exc))
                continue
            if not self._wanted(agent):
                continue
            worker = self.agents.get(agent)
            if worker is None:
                self._topics.setdefault(agent, {}).setdefault(conv, start)
            else:
                worker.follow(conv, start)
