"""`Runtime`: one installation driven in one process (the crypto service's core), composed of parts with one
role each (`core` for what they share): `installation` (keys, key packages), `inbound` (one envelope,
atomically and guarded), `outbound` (intents built and published), `sync` (pulls and settling), `outbox`
(events' durable form).

Every envelope is handled in one transaction under the conversation's lock: MLS state of the new epoch,
cursor, processed-envelope mark, messages, intent moves and the events it produced (the outbox) commit
together, so a crash at any point resumes from the stored state, nothing is applied twice and no event is
lost, whoever pulled the envelope. `stream()` hands out the outbox's events. Outgoing work is an intent:
ToPublish -> Published -> (Committed ->) Processed, or Error with a reason."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

from xmtp_core.content import default_registry, new_idempotency_key
from xmtp_core.content.envelope import message_id
from xmtp_core.content.registry import ContentRegistry
from xmtp_core.content.types import ContentTypeId
from xmtp_core.engine import (
    AdminAction,
    ConversationInfo,
    ConversationJoined,
    EngineError,
    EnvelopeRejected,
    Event,
    InstallationKeys,
    IntentPayload,
    add_members_intent,
    group_conversation,
    key_update_intent,
    new_dm,
    new_group,
    remove_members_intent,
    send_message_intent,
    update_admins_intent,
    update_metadata_intent,
    update_permissions_intent,
)
from xmtp_core.identity.signer import Signer
from xmtp_core.node import GroupMessage, NodeClient, NodeRejected, Subscription, WelcomeMessage
from xmtp_core.runtime.core import (
    Core,
    EnvelopeSender,
    NodeSender,
    UnknownConversation,
    group_topic,
    now_ns,
    welcome_topic,
)
from xmtp_core.runtime.group_cache import GroupCache
from xmtp_core.runtime.guard import Transient
from xmtp_core.runtime.identity import NodeIdentityResolver
from xmtp_core.runtime.inbound import Inbound
from xmtp_core.runtime.installation import KeyPackages, load_installation, register_installation
from xmtp_core.runtime.outbound import Outbound
from xmtp_core.runtime.outbox import from_outbox
from xmtp_core.runtime.sync import Sync
from xmtp_core.store import Conversation, DeliveryStatus, Intent, IntentState, Store, StoredMessage
from xmtp_core.xmtp_mls.key_package import KeyPackageBundle
from xmtp_core.xmtp_mls.policies import MetadataField, PolicySet

log = logging.getLogger(__name__)

STREAM_QUEUE = 256  # envelopes buffered between the node's streams and their processing (backpressure beyond)
OUTBOX_BATCH = 100
OUTBOX_POLL_S = 1.0  # also look for events other processes of this installation wrote
RETRY_MAX_S = 5.0

__all__ = ["Runtime", "SendResult", "group_topic", "welcome_topic"]


@dataclass(frozen=True)
class SendResult:
    """What a send produced: the message id and its intent (none when the same message was sent before)."""

    message_id: bytes
    intent_id: int  # 0 when ``duplicate``
    duplicate: bool = False  # this message (same idempotency key and content) was sent before


class Runtime:
    """One installation driven in one process: its parts (installation, inbound, outbound, sync) over one node
    client and store."""

    def __init__(
        self,
        node: NodeClient,
        store: Store,
        keys: InstallationKeys,
        *,
        registry: ContentRegistry | None = None,
        sender: EnvelopeSender | None = None,
    ) -> None:
        """``sender``: where built envelopes go (the node itself by default; the crypto service's goes through
        the bus to the publisher)."""
        self.core = Core(
            node, store, keys, registry or default_registry(), NodeIdentityResolver(node), GroupCache(store),
            sender or NodeSender(node),
        )  # fmt: skip
        self.key_packages = KeyPackages(self.core)
        self.outbound = Outbound(self.core)
        self.inbound = Inbound(self.core, self.key_packages, self.outbound.send_welcomes)
        self.sync = Sync(self.core, self.inbound, self.outbound, self.key_packages)
        self._streamed_groups: Subscription[GroupMessage] | None = None  # set while stream() runs

    # The parts' shared state, by the names callers have always used.
    @property
    def node(self) -> NodeClient:
        return self.core.node

    @property
    def store(self) -> Store:
        return self.core.store

    @property
    def keys(self) -> InstallationKeys:
        return self.core.keys

    @property
    def registry(self) -> ContentRegistry:
        return self.core.registry

    @property
    def resolver(self) -> NodeIdentityResolver:
        return self.core.resolver

    @property
    def groups(self) -> GroupCache:
        return self.core.groups

    @property
    def rejections(self) -> list[EnvelopeRejected]:
        return self.core.rejections

    # ---- installation --------------------------------------------------------------------------------------

    @classmethod
    async def register(cls, node: NodeClient, store: Store, wallet: Signer, **options: Any) -> Runtime:
        """A new inbox + installation: key package uploaded first, then the identity registration (libxmtp's order)."""
        keys, update = await register_installation(store, wallet)
        runtime = cls(node, store, keys, **options)
        await runtime.rotate_key_package()
        await node.publish_identity_update(update)
        return runtime

    @classmethod
    async def open(cls, node: NodeClient, store: Store, **options: Any) -> Runtime:
        """The installation already in ``store``; resumes unfinished intents (their events go to the outbox)."""
        runtime = cls(node, store, await load_installation(store), **options)
        await runtime.resume()
        return runtime

    async def rotate_key_package(self) -> KeyPackageBundle:
        """Build, store and upload a fresh last-resort key package (after a Welcome used one, or near expiry)."""
        return await self.key_packages.rotate()

    async def rotate_key_package_if_due(self) -> bool:
        """Rotate when owed (the node's copy used by a Welcome we joined, near expiry, or never accepted)."""
        return await self.key_packages.rotate_if_due()

    # ---- reading -------------------------------------------------------------------------------------------

    async def conversation(self, group_id: bytes) -> ConversationInfo:
        async with self.store.transaction() as s:
            return group_conversation(await self.core.load_group(s, group_id), self.keys.inbox_id)

    async def conversations(self) -> list[Conversation]:
        async with self.store.transaction() as s:
            return await self.store.conversations.list_by_state(s)

    async def messages(self, group_id: bytes, limit: int = 1000) -> list[StoredMessage]:
        async with self.store.transaction() as s:
            return await self.store.messages.list_for_group(s, group_id, limit=limit)

    async def intent(self, intent_id: int) -> Intent | None:
        async with self.store.transaction() as s:
            return await self.store.intents.get(s, intent_id)

    # ---- envelopes and syncs -------------------------------------------------------------------------------

    async def handle_welcome(self, msg: WelcomeMessage) -> list[Event]:
        return await self.inbound.handle_welcome(msg)

    async def handle_group_message(self, envelope: GroupMessage) -> list[Event]:
        return await self.inbound.handle_group_message(envelope)

    async def sync_welcomes(self) -> list[Event]:
        return await self.sync.welcomes()

    async def sync_group(self, group_id: bytes) -> list[Event]:
        return await self.sync.group(group_id)

    async def sync_all(self) -> list[Event]:
        return await self.sync.all()

    async def resume(self) -> list[Event]:
        return await self.sync.resume()

    async def run_intent(
        self, group_id: bytes, payload: IntentPayload, own_copy: StoredMessage | None = None
    ) -> Intent:
        return await self.sync.run_intent(group_id, payload, own_copy)

    # ---- public operations ---------------------------------------------------------------------------------

    async def create_dm(self, peer_inbox_id: str) -> bytes:
        async with self.store.transaction() as s:
            existing = await self.store.conversations.find_dm(s, peer_inbox_id)
        if existing is not None:
            return existing.group_id
        group = new_dm(self.keys, await self.resolver.latest_sequence_id(self.keys.inbox_id), peer_inbox_id)
        async with self.store.transaction() as s:
            await self.core.save_conversation(s, group_conversation(group, self.keys.inbox_id), group)
        self._follow(group.group_id)
        await self._require(await self.run_intent(group.group_id, add_members_intent([peer_inbox_id])))
        return group.group_id

    async def create_group(
        self, inbox_ids: Sequence[str], *, name: str = "", description: str = "", policy: PolicySet | None = None
    ) -> bytes:
        attributes = {MetadataField.GROUP_NAME: name, MetadataField.DESCRIPTION: description}
        seq = await self.resolver.latest_sequence_id(self.keys.inbox_id)
        group = new_group(self.keys, seq, policy=policy, attributes=attributes)
        async with self.store.transaction() as s:
            await self.core.save_conversation(s, group_conversation(group, self.keys.inbox_id), group)
        self._follow(group.group_id)
        if inbox_ids:
            await self._require(await self.run_intent(group.group_id, add_members_intent(list(inbox_ids))))
        return group.group_id

    async def send(
        self,
        group_id: bytes,
        content: object,
        *,
        content_type: ContentTypeId | None = None,
        idempotency_key: str | None = None,
        wait: bool = True,
    ) -> SendResult:
        """Encode with the registry, store our copy, publish as an intent and (``wait``) wait for the echo.

        ``idempotency_key`` (random when None) names the message: the same key and content in the same
        conversation is the same message id, and a second send of it publishes nothing new (a handler re-run
        after a crash, a repeated command). Without ``wait`` the call returns once the node accepted the
        envelope; its echo finishes the intent whoever pulls it. A conversation the store does not hold raises
        `UnknownConversation` before anything reaches the node."""
        prepared = self.registry.prepare(content, content_type=content_type)
        key = idempotency_key or new_idempotency_key()
        msg_id = message_id(group_id, key, prepared.payload)
        async with self.store.transaction() as s:  # one transaction of reads: conversation, repeat, position
            known = await self.store.conversations.get(s, group_id) is not None
            already = await self.store.messages.get(s, msg_id)
            cursor = await self.store.cursors.get(s, group_topic(group_id))
            epoch = await self.store.group_states.current_epoch(s, group_id)
        if not known:
            raise UnknownConversation(f"no conversation {group_id.hex()}")
        if already is not None:
            if already.delivery_status is DeliveryStatus.FAILED:  # a repeat of a refused send is refused too
                raise EngineError(f"message {msg_id.hex()} was refused before: its send is not repeated")
            return SendResult(msg_id, 0, duplicate=True)
        payload = send_message_intent(prepared.payload, key, should_push=prepared.should_push)
        stored = StoredMessage(
            msg_id, group_id, self.keys.inbox_id, self.keys.installation_key, now_ns(),
            str(prepared.encoded.type), prepared.payload, DeliveryStatus.UNPUBLISHED,
        )  # fmt: skip
        # The echo marks it published.
        try:
            intent = await self.sync.run_intent(group_id, payload, stored, settle=wait, cursor=cursor, epoch=epoch)
        except NodeRejected:  # its intent is in Error (`Outbound._send`); the stored copy is marked failed too
            async with self.store.transaction() as s:
                await self.store.messages.set_delivery_status(s, msg_id, DeliveryStatus.FAILED)
            raise
        if intent.state is IntentState.ERROR:
            async with self.store.transaction() as s:
                await self.store.messages.set_delivery_status(s, msg_id, DeliveryStatus.FAILED)
            await self._require(intent)
        elif wait:
            await self._require(intent)
        return SendResult(msg_id, intent.id)

    async def add_members(self, group_id: bytes, inbox_ids: Sequence[str]) -> Intent:
        return await self._require(await self.run_intent(group_id, add_members_intent(list(inbox_ids))))

    async def remove_members(self, group_id: bytes, inbox_ids: Sequence[str]) -> Intent:
        return await self._require(await self.run_intent(group_id, remove_members_intent(list(inbox_ids))))

    async def update_metadata(self, group_id: bytes, fields: dict[str, str]) -> Intent:
        return await self._require(await self.run_intent(group_id, update_metadata_intent(fields)))

    async def update_name(self, group_id: bytes, name: str) -> Intent:
        return await self.update_metadata(group_id, {MetadataField.GROUP_NAME: name})

    async def update_description(self, group_id: bytes, description: str) -> Intent:
        return await self.update_metadata(group_id, {MetadataField.DESCRIPTION: description})

    async def update_image_url(self, group_id: bytes, url: str) -> Intent:
        return await self.update_metadata(group_id, {MetadataField.GROUP_IMAGE_URL_SQUARE: url})

    async def update_disappearing(self, group_id: bytes, *, from_ns: int, in_ns: int) -> Intent:
        """Messages sent from ``from_ns`` on disappear ``in_ns`` after sending (libxmtp's two metadata fields)."""
        fields = {
            MetadataField.MESSAGE_DISAPPEAR_FROM_NS: str(from_ns),
            MetadataField.MESSAGE_DISAPPEAR_IN_NS: str(in_ns),
        }
        return await self.update_metadata(group_id, fields)

    async def update_admins(self, group_id: bytes, action: AdminAction, inbox_id: str) -> Intent:
        return await self._require(await self.run_intent(group_id, update_admins_intent(action, inbox_id)))

    async def update_permissions(self, group_id: bytes, policy: PolicySet) -> Intent:
        return await self._require(await self.run_intent(group_id, update_permissions_intent(policy)))

    async def key_update(self, group_id: bytes) -> Intent:
        return await self._require(await self.run_intent(group_id, key_update_intent()))

    def _follow(self, group_id: bytes) -> None:
        """A group we created joins a running stream (from the start: what we already handled is skipped)."""
        if self._streamed_groups is not None:
            self._streamed_groups.add(group_id, 0)

    async def _require(self, intent: Intent) -> Intent:
        if intent.state is not IntentState.PROCESSED:
            raise EngineError(f"intent {intent.id} ({intent.kind}) ended {intent.state.value}: {intent.error}")
        return intent

    # ---- streaming -----------------------------------------------------------------------------------------

    async def stream(self) -> AsyncGenerator[Event, None]:
        """Every event owed to the application, in order per conversation: first what the outbox already holds
        (handled by syncs, sends' pulls or resume while nobody streamed), then what arrives. Welcomes and group
        messages are followed as they arrive (reconnecting subscriptions; new groups followed as soon as we
        join them); each event is marked delivered once the consumer asks for the next (at least once)."""
        async with self.store.transaction() as s:
            convs = await self.store.conversations.list_by_state(s)
            cursors = await self.store.cursors.get_many(s, [group_topic(c.group_id) for c in convs])
            welcome_cursor = await self.store.cursors.get(s, self.core.welcome_topic)
        queue: asyncio.Queue[GroupMessage | WelcomeMessage] = asyncio.Queue(STREAM_QUEUE)
        groups = self.node.subscribe_group_messages({c.group_id: cursors[group_topic(c.group_id)] for c in convs})
        self._streamed_groups = groups
        welcomes = self.node.subscribe_welcome_messages({self.keys.installation_key: welcome_cursor})

        async def pump(source: Any) -> None:
            async for item in source:
                await queue.put(item)  # blocks when processing falls behind: the subscription waits too

        async def process() -> None:
            while True:
                await self._process_streamed(await queue.get(), groups)

        tasks = [asyncio.create_task(pump(groups)), asyncio.create_task(pump(welcomes)), asyncio.create_task(process())]
        try:
            async for event in self._drain_outbox(tasks):
                yield event
        finally:
            self._streamed_groups = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await groups.aclose()
            await welcomes.aclose()

    async def _process_streamed(self, item: GroupMessage | WelcomeMessage, groups: Subscription[GroupMessage]) -> None:
        """One streamed envelope through the guard; a transient failure is retried with backoff (the stream
        waits: order within the conversation matters more than latency of the others)."""
        delay = 0.1
        while True:
            try:
                if isinstance(item, WelcomeMessage):
                    joined = [e for e in await self.inbound.handle_welcome(item) if isinstance(e, ConversationJoined)]
                    for event in joined:
                        gid = event.conversation.group_id
                        groups.add(gid, event.message_cursor)
                        await self.sync.group(gid)  # a group joined again re-reads what came after its Welcome
                    if joined:
                        await self.key_packages.rotate_if_due()
                else:
                    await self.inbound.handle_group_message(item)
                return
            except Transient as exc:
                log.warning("stream: %s; retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _drain_outbox(self, workers: list[asyncio.Task[None]]) -> AsyncGenerator[Event, None]:
        core = self.core
        while True:
            core.events_ready.clear()
            async with self.store.transaction() as s:
                rows = await self.store.outbox.claim(s, OUTBOX_BATCH)
            delivered: list[str] = []
            try:
                for row in rows:
                    yield from_outbox(row, self.registry).event
                    delivered.append(row.event_id)
            finally:
                if delivered:
                    async with self.store.transaction() as s:
                        await self.store.outbox.mark_delivered(s, delivered)
            if rows:
                continue
            for task in workers:
                if task.done():  # a subscription or the processor died: say so instead of waiting for ever
                    task.result()
                    raise RuntimeError("the stream's subscription ended")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(OUTBOX_POLL_S):
                    await core.events_ready.wait()
