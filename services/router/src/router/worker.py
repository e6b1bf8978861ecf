"""The router's worker: SB_EV consumed per partition (durable `router-<agent>`, shared by every replica of the
agent) into the agent's handlers.

Per partition one event is in flight, acked after its handlers returned, so a conversation's events reach the
handlers in order while conversations run in parallel (the bound per worker is the partition count). A
handler's failure never stops the worker (`Agent` reports it); only a failure to reach crypto (commands or
operations time out) makes the event go back for a retry. Conversation details come with join and update
events and are kept per worker; one not seen yet is asked of crypto once.

Messages of a conversation the agent denied (`router.consent`) are not dispatched, as the Agent SDK's default
stream; `Agent(include_denied=True)` keeps them. A group update (a commit: members, admins, metadata) reaches
handlers as the `group-update` content event with a `GroupUpdated` value, as libxmtp shows it; its message id
is derived from the event (a commit has no application message id of ours). The agent's inbox id and address
are read from KV `sb_agents` at start."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import OrderedDict

from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from xmtp_core.bus import kv as bus_kv
from xmtp_core.bus import subjects
from xmtp_core.bus.runner import Meta, PartitionedConsumer, Transient
from xmtp_core.bus.schemas import ConversationInfo, Event, JoinedEvent, MessageEvent, UpdatedEvent, parse
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import EV
from xmtp_core.content.codecs.group import GroupUpdated, MetadataFieldChange
from xmtp_core.content.registry import ContentRegistry
from xmtp_core.untrusted import clean_error

from router.agent import Agent
from router.context import Conversation, ConversationContext, Message, MessageContext, message_from_event
from router.transport import NatsTransport

log = logging.getLogger(__name__)

CONVERSATIONS_KEPT = 10_000


class Worker:
    def __init__(
        self,
        agent: Agent,
        nc: NATS,
        js: JetStreamContext,
        settings: BusSettings,
        *,
        registry: ContentRegistry | None = None,
    ) -> None:
        self.agent = agent
        self.js = js
        self.transport = NatsTransport(agent.name, nc, js)
        agent.transport = self.transport
        self.registry = registry or agent.registry
        self.consumer = PartitionedConsumer(
            js, EV, f"router-{agent.name}", Event, self.handle, settings, dlq_hop="router"
        )
        self._conversations: OrderedDict[str, ConversationInfo] = OrderedDict()
        self.handled = 0

    async def run(self) -> None:
        await self.identify()
        await self.agent.lifecycle("start")
        try:
            await self.consumer.run()
        finally:
            log.info("router worker of %s stopping: handled %d events", self.agent.name, self.handled)
            await self.agent.lifecycle("stop")

    async def handle(self, event: Event, meta: Meta) -> None:
        if event.agent != self.agent.name or meta.agent != self.agent.name:
            return  # another agent's event (one router deployment per agent)
        try:
            if isinstance(event, MessageEvent):
                await self._message(event)
            elif isinstance(event, JoinedEvent | UpdatedEvent):
                self._keep(event.conversation)
                if isinstance(event, JoinedEvent):
                    ctx = ConversationContext(self.agent, self._conversation(event.conversation), event.event_id)
                    await self.agent.dispatch_conversation(ctx)
                else:
                    await self._group_update(event)
        except (TimeoutError, NatsTimeoutError) as exc:
            raise Transient(f"crypto did not answer: {clean_error(exc)}") from exc
        self.handled += 1

    async def _message(self, event: MessageEvent) -> None:
        message = message_from_event(event, self.registry)
        info = await self._info(event.conversation_id)
        ctx = MessageContext(self.agent, self._conversation(info), event.event_id, message=message)
        await self._dispatch(ctx)

    async def _dispatch(self, ctx: MessageContext) -> None:
        if not self.agent.include_denied and await self.agent.conversation_consent(ctx.conversation) == "denied":
            return  # the Agent SDK's default stream: Allowed and Unknown only
        await self.agent.dispatch_message(ctx)

    async def _group_update(self, event: UpdatedEvent) -> None:
        u = event.update
        value = GroupUpdated(
            u.initiated_by_inbox_id, tuple(u.added_inboxes), tuple(u.removed_inboxes),
            tuple(MetadataFieldChange(c.field_name, c.old_value, c.new_value) for c in u.metadata_field_changes),
            tuple(u.left_inboxes), tuple(u.added_admin_inboxes), tuple(u.removed_admin_inboxes),
            tuple(u.added_super_admin_inboxes), tuple(u.removed_super_admin_inboxes),
        )  # fmt: skip
        own = bool(self.agent.inbox_id) and u.initiated_by_inbox_id == self.agent.inbox_id
        message = Message(
            hashlib.sha256(event.event_id.encode()).hexdigest(), event.conversation.conversation_id,
            u.initiated_by_inbox_id, event.sent_ns, "xmtp.org/group_updated:1.0", value, None, own,
        )  # fmt: skip
        ctx = MessageContext(self.agent, self._conversation(event.conversation), event.event_id, message=message)
        await self._dispatch(ctx)

    async def identify(self) -> None:
        """The agent's inbox id and address from KV `sb_agents` (crypto writes them); empty when not there yet."""
        with contextlib.suppress(Exception):  # the agent runs without them; `from_self` still uses is_own
            kv = await self.js.key_value(subjects.KV_AGENTS)
            entry = await kv.get(self.agent.name)
            if entry.value:
                record = parse(bus_kv.AgentRecord, entry.value)
                self.agent.inbox_id, self.agent.address = record.inbox_id, record.address or ""
                return
        log.warning("agent %s: no inbox id in %s yet", self.agent.name, subjects.KV_AGENTS)

    async def _info(self, conversation_id: str) -> ConversationInfo:
        info = self._conversations.get(conversation_id)
        if info is None:
            async with asyncio.timeout(60):
                response = await self.transport.op({"op": "conversation", "conversation_id": conversation_id})
            assert response.conversation is not None
            info = response.conversation
            self._keep(info)
        return info

    def _keep(self, info: ConversationInfo) -> None:
        self._conversations[info.conversation_id] = info
        self._conversations.move_to_end(info.conversation_id)
        while len(self._conversations) > CONVERSATIONS_KEPT:
            self._conversations.popitem(last=False)

    def _conversation(self, info: ConversationInfo) -> Conversation:
        return Conversation(info, self.transport, self.agent.name, self.registry)
