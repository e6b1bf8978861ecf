"""`Runtime`: one installation driven in one process (the crypto service will wrap it): composes `NodeClient`,
`Store` and the engine. Every envelope is handled in one transaction under the conversation's lock: MLS state
of the new epoch, cursor, processed-envelope mark, messages and intent moves commit together, so a crash at any
point resumes from the stored state and nothing is applied twice. Outgoing work is an intent:
ToPublish -> Published -> (Committed ->) Processed, or Error with a reason."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.content import GroupUpdated, default_registry, new_idempotency_key
from xmtp_core.content.codecs.group import GROUP_UPDATED
from xmtp_core.content.envelope import message_id
from xmtp_core.content.registry import ContentRegistry
from xmtp_core.content.types import ContentTypeId
from xmtp_core.engine import (
    AdminAction,
    CommitInputs,
    ConversationInfo,
    ConversationJoined,
    EngineError,
    EnvelopeRejected,
    Event,
    GroupUpdatedEvent,
    InstallationKeys,
    IntentKind,
    IntentPayload,
    MessageReceived,
    Outcome,
    OwnEcho,
    Rejected,
    RejectReason,
    add_members_intent,
    build_application,
    build_commit_in_place,
    data_hash,
    group_conversation,
    join_welcome,
    key_package_expires_ns,
    key_update_intent,
    new_dm,
    new_group,
    new_key_package,
    open_pointee,
    open_welcome,
    outgoing,
    process_envelope,
    remove_members_intent,
    send_message_intent,
    should_rotate,
    update_admins_intent,
    update_metadata_intent,
    update_permissions_intent,
    welcome_messages,
)
from xmtp_core.engine.creating import Built
from xmtp_core.engine.events import ConversationKind
from xmtp_core.identity import InstallationKeySigner, build_register
from xmtp_core.identity.signer import Signer
from xmtp_core.mls.errors import MLSError
from xmtp_core.mls.extensions import Extension
from xmtp_core.mls.group import Group
from xmtp_core.node import GroupMessage, NewGroupMessage, NodeClient, Subscription, WelcomeMessage
from xmtp_core.runtime.group_cache import GroupCache, Lease
from xmtp_core.runtime.identity import NodeIdentityResolver
from xmtp_core.store import (
    Conversation,
    ConversationState,
    DeliveryStatus,
    GroupState,
    Installation,
    Intent,
    IntentState,
    NotFoundError,
    Rejection,
    Store,
    StoredKeyPackage,
    StoredMessage,
    conversation_lock,
)
from xmtp_core.store import ConversationKind as StoreKind
from xmtp_core.xmtp_mls.changes import summarize_commit
from xmtp_core.xmtp_mls.errors import XmtpMlsError
from xmtp_core.xmtp_mls.extensions import parse_group_extensions
from xmtp_core.xmtp_mls.group_updated import group_updated_from_commit
from xmtp_core.xmtp_mls.key_package import KeyPackageBundle, PeerKeyPackage, parse_key_package
from xmtp_core.xmtp_mls.policies import MetadataField, PolicySet
from xmtp_core.xmtp_mls.welcome_wrapper import UnwrappedWelcome, WelcomePointer

log = logging.getLogger(__name__)

MAX_COMMIT_ATTEMPTS = 5
MAX_MERGED_KEPT = 8  # post-commit groups kept in memory for their echo (normally one per conversation)
OPEN_INTENTS = (IntentState.TO_PUBLISH, IntentState.PUBLISHED, IntentState.COMMITTED)


def group_topic(group_id: bytes) -> str:
    return f"group:{group_id.hex()}"


def welcome_topic(installation_key: bytes) -> str:
    return f"welcome:{installation_key.hex()}"


def _now_ns() -> int:
    return time.time_ns()


@dataclass(frozen=True)
class _Echo:
    """What our own envelope coming back did: the merged group, Welcomes still to send, the event."""

    group: Group | None = None
    state: bytes | None = None  # ``group`` serialised (the intent's stored post-commit state)
    follow_up: tuple[Intent, Built] | None = None
    event: GroupUpdatedEvent | None = None
    finished: Intent | None = None  # the intent, when this echo made it Processed


@dataclass
class _AfterCommit:
    """What an envelope's transaction leaves for after its commit: Welcomes to send, intents it finished."""

    welcomes: list[tuple[Intent, Built]] = field(default_factory=list)
    finished: list[Intent] = field(default_factory=list)


@dataclass(frozen=True)
class _Merged:
    """A commit we published, merged in memory: the group after it, the epoch it was made in and the
    group-context extensions it was made on (all its echo needs of the group before it)."""

    group: Group
    epoch: int
    before: tuple[Extension, ...]


@dataclass(frozen=True)
class SendResult:
    message_id: bytes
    intent_id: int


class Runtime:
    def __init__(
        self, node: NodeClient, store: Store, keys: InstallationKeys, *, registry: ContentRegistry | None = None
    ) -> None:
        self.node = node
        self.store = store
        self.keys = keys
        self.registry = registry or default_registry()
        self.resolver = NodeIdentityResolver(node)
        self.rejections: list[EnvelopeRejected] = []
        self._streamed_groups: Subscription[GroupMessage] | None = None  # set while stream() runs
        # Our commits' merged groups by the hash of the commit's bytes, so the echo need not deserialise the
        # stored post-commit state again (tens of ms at 250 members). A miss falls back to the stored bytes.
        self._merged: dict[bytes, _Merged] = {}
        self.groups = GroupCache(store)  # current groups, valid while they match the stored row
        # Intents a running `_settle` waits for, and those an echo's committed transaction made Processed.
        self._watched: set[int] = set()
        self._finished: dict[int, Intent] = {}

    # ---- installation --------------------------------------------------------------------------------------

    @classmethod
    async def register(cls, node: NodeClient, store: Store, wallet: Signer, **options: Any) -> Runtime:
        """A new inbox + installation: key package uploaded first, then the identity registration (libxmtp's order)."""
        signer = InstallationKeySigner.generate()
        update = await build_register(wallet, signer)
        keys = InstallationKeys.from_seed(update.inbox_id, signer.private_seed)
        runtime = cls(node, store, keys, **options)
        async with store.transaction() as s:
            credential = keys.credential.to_bytes()
            await store.installations.save(
                s, Installation(keys.inbox_id, keys.installation_key, keys.private_seed, credential)
            )
        await runtime.rotate_key_package()
        await node.publish_identity_update(update)
        return runtime

    @classmethod
    async def open(cls, node: NodeClient, store: Store, **options: Any) -> Runtime:
        """The installation already in ``store``; resumes unfinished intents."""
        async with store.transaction() as s:
            inst = await store.installations.load_only(s)
        if inst is None:
            raise LookupError("the store holds no installation; register first")
        runtime = cls(node, store, InstallationKeys.from_seed(inst.inbox_id, inst.private_signing_key), **options)
        await runtime.resume()
        return runtime

    async def rotate_key_package(self) -> KeyPackageBundle:
        """Build, store and upload a fresh last-resort key package (after a Welcome used one, or near expiry)."""
        bundle = new_key_package(self.keys)
        stored = StoredKeyPackage(
            bundle.ref, self.keys.installation_key, bundle.tls_bytes, bundle.init_private_key,
            bundle.encryption_private_key, bundle.xwing_seed, True, _now_ns(), key_package_expires_ns(bundle),
        )  # fmt: skip
        async with self.store.transaction() as s:
            await self.store.key_packages.save(s, stored)
        await self.node.upload_key_package(bundle.tls_bytes)
        return bundle

    async def rotate_key_package_if_due(self) -> bool:
        """Rotate when the newest key package nears expiry (or none is usable); True when it rotated."""
        async with self.store.transaction() as s:
            usable = await self.store.key_packages.list_usable(s, self.keys.installation_key)
        if usable and not should_rotate(expires_ns=usable[0].expires_ns, now_ns=_now_ns(), used_by_welcome=False):
            return False
        await self.rotate_key_package()
        return True

    async def _bundles(self, s: AsyncSession) -> list[KeyPackageBundle]:
        stored = await self.store.key_packages.list_usable(s, self.keys.installation_key)
        out = []
        for kp in stored:
            parsed = parse_key_package(kp.key_package)
            out.append(
                KeyPackageBundle(
                    parsed.key_package,
                    kp.key_package,
                    self.keys.inbox_id,
                    self.keys.installation_key,
                    kp.init_private_key,
                    kp.encryption_private_key,
                    kp.welcome_wrapper_private_key,
                    kp.ref,
                )
            )
        return out

    # ---- state helpers -------------------------------------------------------------------------------------

    async def _load_group(self, s: AsyncSession, group_id: bytes) -> Group:
        state = await self.store.group_states.load_current(s, group_id)
        if state is None:
            raise LookupError(f"no conversation {group_id.hex()}")
        return Group.from_bytes(state.state)

    async def _save_group(
        self, s: AsyncSession, group: Group, state: bytes | None = None, *, new_epoch: bool = True
    ) -> None:
        """``state``: ``group`` already serialised, when the caller has those bytes. ``new_epoch=False``: the
        same epoch as stored (a message sent or received), so there is nothing to prune."""
        serialised = group.to_bytes() if state is None else state
        await self.store.group_states.save(s, GroupState(group.group_id, group.epoch, serialised), prune=new_epoch)

    async def _save_conversation(self, s: AsyncSession, info: ConversationInfo, group: Group) -> None:
        kind = StoreKind.DM if info.kind is ConversationKind.DM else StoreKind.GROUP
        await self.store.conversations.save(s, Conversation(group.group_id, kind, _now_ns(), info.dm_peer_inbox_id))
        await self.store.conversations.set_members(s, group.group_id, list(info.members))
        await self._save_group(s, group)

    async def conversation(self, group_id: bytes) -> ConversationInfo:
        async with self.store.transaction() as s:
            return group_conversation(await self._load_group(s, group_id), self.keys.inbox_id)

    async def conversations(self) -> list[Conversation]:
        async with self.store.transaction() as s:
            return await self.store.conversations.list_by_state(s)

    async def messages(self, group_id: bytes, limit: int = 1000) -> list[StoredMessage]:
        async with self.store.transaction() as s:
            return await self.store.messages.list_for_group(s, group_id, limit=limit)

    async def intent(self, intent_id: int) -> Intent | None:
        async with self.store.transaction() as s:
            return await self.store.intents.get(s, intent_id)

    # ---- welcomes ------------------------------------------------------------------------------------------

    async def sync_welcomes(self) -> list[Event]:
        topic = welcome_topic(self.keys.installation_key)
        async with self.store.transaction() as s:
            cursor = await self.store.cursors.get(s, topic)
        events: list[Event] = []
        async for msg in self.node.iter_welcome_messages(self.keys.installation_key, cursor=cursor):
            events.extend(await self.handle_welcome(msg))
        if any(isinstance(e, ConversationJoined) for e in events):
            await self.rotate_key_package()
        return events

    async def _open(self, msg: WelcomeMessage, bundles: Sequence[KeyPackageBundle]) -> UnwrappedWelcome:
        opened = open_welcome(msg, bundles)
        if isinstance(opened, WelcomePointer):
            page = await self.node.query_welcome_messages(opened.destination)
            if not page.items:
                raise Rejected(RejectReason.WELCOME_INVALID, f"welcome {msg.id}: pointee not on the node")
            opened = open_pointee(msg, opened, page.items[0])
        return opened

    async def handle_welcome(self, msg: WelcomeMessage) -> list[Event]:
        topic = welcome_topic(self.keys.installation_key)
        async with self.store.transaction() as s:
            if await self.store.envelopes.is_processed(s, topic, msg.id):
                return []
            bundles = await self._bundles(s)
        try:
            joined = await join_welcome(msg, await self._open(msg, bundles), bundles, self.keys, self.resolver)
        except Rejected as exc:
            event = EnvelopeRejected(msg.installation_key, msg.id, exc.reason, exc.detail)
            async with self.store.transaction() as s:
                if await self.store.envelopes.mark(s, topic, msg.id):
                    await self._record(s, topic, event)
                await self.store.cursors.advance(s, topic, msg.id)
            return [event]
        group = joined.group
        async with self.store.transaction() as s, conversation_lock(s, group.group_id):
            fresh = await self.store.envelopes.mark(s, topic, msg.id)
            known = await self.store.conversations.get(s, group.group_id)
            if fresh and known is None:
                await self._save_conversation(s, joined.event.conversation, group)
                await self.store.cursors.advance(s, group_topic(group.group_id), joined.event.message_cursor)
            await self.store.cursors.advance(s, topic, msg.id)
        return [joined.event] if fresh and known is None else []

    async def _record(self, s: AsyncSession, topic: str, event: EnvelopeRejected) -> None:
        """Keep the refusal (reason and detail, no plaintext) in the store, in the envelope's transaction."""
        log.warning("rejected envelope %s on %s: %s (%s)", event.envelope_id, topic, event.reason, event.detail)
        await self.store.rejections.record(s, Rejection(topic, event.envelope_id, event.reason.value, event.detail))
        self.rejections.append(event)

    # ---- group messages ------------------------------------------------------------------------------------

    async def sync_all(self) -> list[Event]:
        await self.rotate_key_package_if_due()
        events = await self.sync_welcomes()
        for conv in await self.conversations():
            events.extend(await self.sync_group(conv.group_id))
        return events

    async def sync_group(self, group_id: bytes) -> list[Event]:
        """Pull the group to the node's head, then publish what is pending, until nothing is left to do."""
        return (await self._sync(group_id))[0]

    async def _sync(
        self, group_id: bytes, *, cursor: int | None = None, watch: int | None = None
    ) -> tuple[list[Event], Intent | None]:
        """`sync_group` from ``cursor`` (read from the store when None), also returning intent ``watch`` when
        the last look at the open intents found it final (None otherwise: read it again)."""
        events: list[Event] = []
        if cursor is None:
            cursor = await self._cursor(group_id)
        watched: Intent | None = None
        for _ in range(MAX_COMMIT_ATTEMPTS * 4):
            cursor, pulled = await self._pull(group_id, cursor)
            events.extend(pulled)
            if watch is not None and (watched := self._finished.pop(watch, None)) is not None:
                # Its echo finished it: done. Other open intents are their own callers' (or resume's) to publish.
                break
            sent, watched = await self._publish_pending(group_id, watch)
            if not sent:
                break
        return events, watched

    async def _cursor(self, group_id: bytes) -> int:
        async with self.store.transaction() as s:
            return await self.store.cursors.get(s, group_topic(group_id))

    async def _pull(self, group_id: bytes, cursor: int) -> tuple[int, list[Event]]:
        """Handle what the node has after ``cursor``; returns the last id seen. Within one sync the stored
        cursor is not read again: anything another process handled meanwhile is skipped by its dedup mark."""
        events: list[Event] = []
        async for envelope in self.node.iter_group_messages(group_id, cursor=cursor):
            events.extend(await self.handle_group_message(envelope))
            cursor = max(cursor, envelope.id)
        return cursor, events

    async def handle_group_message(self, envelope: GroupMessage) -> list[Event]:
        """One envelope, atomically: effects, new MLS state, cursor and dedup mark in one transaction."""
        after = _AfterCommit()
        async with self.store.transaction() as s:
            lease = await self.groups.checkout(s, envelope.group_id)
            if lease is None:
                log.warning("envelope %s for unknown group %s skipped", envelope.id, envelope.group_id.hex())
                return []
            events = await self._handle(s, lease, envelope, after)
        self.groups.checkin(lease)
        for intent in after.finished:
            if intent.id in self._watched:
                self._finished[intent.id] = intent
        for intent, built in after.welcomes:
            await self._send_welcomes(intent, built)
        return events

    async def _handle(self, s: AsyncSession, lease: Lease, envelope: GroupMessage, after: _AfterCommit) -> list[Event]:
        topic = group_topic(envelope.group_id)
        digest = data_hash(envelope.data)
        if not await self.store.envelopes.mark(s, topic, envelope.id, digest):
            return []
        kept = self._merged.get(digest)
        if kept is not None and kept.epoch == lease.epoch:
            # The very bytes of a commit we made on the current epoch: our echo, in order, without loading
            # and decrypting with the group before it (the slowest part of our own commits).
            group: Group | None = None
            outcome = Outcome([OwnEcho(envelope.group_id, envelope.id, digest, True, lease.epoch)])
        else:
            group = await self.groups.group(s, lease)
            outcome = await process_envelope(group, envelope, self.keys, self.resolver, self.registry)
        events: list[Event] = []
        changed = outcome.state_changed
        serialised: bytes | None = None
        for event in outcome.events:
            if isinstance(event, OwnEcho):
                echo = await self._own_echo(s, event, lease.epoch, group)
                if echo.group is not None:
                    group, changed, serialised = echo.group, True, echo.state
                if echo.follow_up is not None:
                    after.welcomes.append(echo.follow_up)
                if echo.finished is not None:
                    after.finished.append(echo.finished)
                if echo.event is not None:
                    events.append(echo.event)
                continue
            events.append(event)
            await self._apply(s, topic, event)
        if changed:
            assert group is not None
            await self._save_group(s, group, serialised, new_epoch=group.epoch != lease.epoch)
            lease.group, lease.saved = group, True
        elif not all(isinstance(e, OwnEcho) for e in outcome.events):
            # A refused envelope may have been partly processed in memory: the stored group stays the truth.
            lease.consumed = True
        await self.store.cursors.advance(s, topic, envelope.id)
        return events

    async def _apply(self, s: AsyncSession, topic: str, event: Event) -> None:
        if isinstance(event, MessageReceived):
            stored = StoredMessage(
                event.message_id, event.group_id, event.sender_inbox_id, event.sender_installation_key,
                event.sent_ns, str(event.content.content_type), event.encoded,
            )  # fmt: skip
            await self.store.messages.insert(s, stored)
        elif isinstance(event, GroupUpdatedEvent):
            await self._store_group_updated(s, event.group_id, event.update, event.sent_ns, event.envelope_id)
            if _members_changed(event.update):
                await self.store.conversations.set_members(s, event.group_id, list(event.conversation.members))
            if event.removed_us:
                await self.store.conversations.set_state(s, event.group_id, ConversationState.LEFT)
        elif isinstance(event, EnvelopeRejected):
            await self._record(s, topic, event)

    async def _store_group_updated(
        self, s: AsyncSession, group_id: bytes, update: GroupUpdated, sent_ns: int, envelope_id: int
    ) -> None:
        encoded = self.registry.encode(update, content_type=GROUP_UPDATED).to_bytes()
        msg_id = message_id(group_id, f"commit-{envelope_id}", encoded)
        stored = StoredMessage(
            msg_id, group_id, update.initiated_by_inbox_id, b"", sent_ns, str(GROUP_UPDATED), encoded
        )
        await self.store.messages.insert(s, stored)

    async def _own_echo(self, s: AsyncSession, echo: OwnEcho, epoch: int, before: Group | None) -> _Echo:
        """Our envelope came back in order: a commit is merged (its stored post-commit state becomes current).
        ``epoch`` is the conversation's current epoch and ``before`` its group (None when not loaded: the
        commit is one of ours kept in memory)."""
        intent = await self.store.intents.find_published(s, echo.group_id, echo.data_hash)
        if intent is None:
            if echo.is_commit:
                reason = RejectReason.OWN_COMMIT_UNKNOWN
                unknown = EnvelopeRejected(echo.group_id, echo.envelope_id, reason, "no intent")
                await self._record(s, group_topic(echo.group_id), unknown)
            return _Echo()
        payload = IntentPayload.from_bytes(intent.payload)
        if not payload.is_commit:
            finished = await self.store.intents.transition(
                s, intent.id, IntentState.PROCESSED, published_id=echo.envelope_id
            )
            msg_id = message_id(echo.group_id, payload.params["idempotency_key"], _content_of(payload))
            with contextlib.suppress(NotFoundError):  # our copy is optional (sends through run_intent)
                await self.store.messages.set_delivery_status(s, msg_id, DeliveryStatus.PUBLISHED)
            return _Echo(finished=finished)
        built = payload.built
        assert built is not None and built.post_state is not None
        if built.epoch != epoch:
            return _Echo()  # it lost the race for its epoch; the intent is rebuilt after the pull
        # Without Welcomes (key updates, removals, metadata) nothing is left to do after the merge.
        done = IntentState.PROCESSED if built.welcome is None else IntentState.COMMITTED
        intent = await self.store.intents.transition(s, intent.id, done, published_id=echo.envelope_id)
        kept = self._merged.pop(echo.data_hash, None)
        if kept is None:
            assert before is not None
            group, before_extensions = Group.from_bytes(built.post_state), before.extensions
        else:
            group, before_extensions = kept.group, kept.before
        info = group_conversation(group, self.keys.inbox_id)
        update = _own_update(before_extensions, group, self.keys.inbox_id)
        now = _now_ns()
        await self._store_group_updated(s, echo.group_id, update, now, echo.envelope_id)
        if _members_changed(update):
            await self.store.conversations.set_members(s, echo.group_id, list(info.members))
        merged = GroupUpdatedEvent(echo.group_id, update, group.epoch, echo.envelope_id, now, info)
        if done is IntentState.PROCESSED:
            return _Echo(group, built.post_state, None, merged, finished=intent)
        return _Echo(group, built.post_state, (intent, built), merged)

    async def _send_welcomes(self, intent: Intent, built: Built) -> None:
        """Send a merged commit's Welcomes once: under the conversation lock, only while still Committed."""
        async with self.store.transaction() as s, conversation_lock(s, intent.group_id):
            current = await self.store.intents.get(s, intent.id)
            if current is None or current.state is not IntentState.COMMITTED:
                return  # another task of this process (or another process) already sent them
            assert current.published_id is not None
            await self.node.send_welcome_messages(welcome_messages(built, current.published_id))
            await self.store.intents.transition(s, intent.id, IntentState.PROCESSED)

    # ---- intents -------------------------------------------------------------------------------------------

    async def _create_intent(
        self, group_id: bytes, payload: IntentPayload, own_copy: StoredMessage | None = None
    ) -> Intent:
        """Store the intent (and, for a send, our copy of the message) in one transaction."""
        async with self.store.transaction() as s, conversation_lock(s, group_id):
            if own_copy is not None:
                await self.store.messages.insert(s, own_copy)
            return await self.store.intents.create(s, group_id, payload.kind.value, payload.to_bytes())

    async def _publish_pending(self, group_id: bytes, watch: int | None = None) -> tuple[bool, Intent | None]:
        """Publish or republish this group's open intents; True when something went out (pull again). Also
        intent ``watch`` when it is final, read in the same transaction (None when it is still open)."""
        watched: Intent | None = None
        async with self.store.transaction() as s:
            intents = await self.store.intents.list_by_state(s, OPEN_INTENTS, group_id=group_id)
            if watch is not None and all(i.id != watch for i in intents):
                watched = await self.store.intents.get(s, watch)
        sent = False
        for intent in intents:
            if intent.state is IntentState.COMMITTED:
                payload = IntentPayload.from_bytes(intent.payload)
                assert payload.built is not None
                await self._send_welcomes(intent, payload.built)
                continue
            sent = await self._publish(intent) or sent
        return sent, watched

    async def _publish(self, intent: Intent) -> bool:
        payload = IntentPayload.from_bytes(intent.payload)
        if intent.state is IntentState.PUBLISHED and payload.built is not None:
            # Still unseen after a pull to the node's head: it never reached the node, or lost the epoch race.
            async with self.store.transaction() as s:
                group = await self._load_group(s, intent.group_id)
            if not payload.is_commit or payload.built.epoch == group.epoch:
                await self._send(intent.group_id, payload.built.data, payload)
                return True
            async with self.store.transaction() as s:
                if intent.attempts >= MAX_COMMIT_ATTEMPTS:
                    await self.store.intents.transition(
                        s, intent.id, IntentState.ERROR, error="epoch conflict: gave up"
                    )
                    return False
                intent = await self.store.intents.transition(s, intent.id, IntentState.TO_PUBLISH)
        inputs = await self._commit_inputs(payload) if payload.kind is IntentKind.ADD_MEMBERS else None
        async with self.store.transaction() as s:
            lease = await self._checkout(s, intent.group_id)
            try:
                built, merged = await self._build(s, lease, payload, inputs)
            except (Rejected, EngineError, XmtpMlsError, MLSError) as exc:
                await self.store.intents.transition(s, intent.id, IntentState.ERROR, error=str(exc))
                return False
            payload = IntentPayload(payload.kind, payload.params, built)
            await self.store.intents.set_payload(s, intent.id, payload.to_bytes())
            await self.store.intents.transition(
                s, intent.id, IntentState.PUBLISHED, published_hash=data_hash(built.data)
            )
        self._built(lease, built, merged)
        await self._send(intent.group_id, built.data, payload)
        return True

    async def _build(
        self, s: AsyncSession, lease: Lease, payload: IntentPayload, inputs: CommitInputs | None
    ) -> tuple[Built, _Merged | None]:
        """Build an intent's envelope on the leased group: a message advances (and stores) the sending
        ratchet; a commit is made on the group itself, which becomes the merged group kept for the echo.
        After an error the lease is not to be checked in (the group may be half-changed)."""
        group = await self.groups.group(s, lease)
        lease.consumed = True  # changed in place; it comes back only once stored
        if payload.is_commit:
            before = group.extensions
            built, after = build_commit_in_place(group, payload, self.keys, inputs)
            return built, _Merged(after, built.epoch, before)
        built, _ = build_application(group, payload, self.keys)
        await self._save_group(s, group, new_epoch=False)
        lease.consumed, lease.saved = False, True
        return built, None

    def _built(self, lease: Lease, built: Built, merged: _Merged | None) -> None:
        """After the building transaction committed: the group back in the cache, a commit's merge kept."""
        self.groups.checkin(lease)
        if merged is not None:
            self._keep_merged(data_hash(built.data), merged)

    async def _checkout(self, s: AsyncSession, group_id: bytes) -> Lease:
        lease = await self.groups.checkout(s, group_id)
        if lease is None:
            raise LookupError(f"no conversation {group_id.hex()}")
        return lease

    def _keep_merged(self, commit_hash: bytes, merged: _Merged) -> None:
        """Remember a published commit's merged group for its echo; the oldest go first (a commit that lost
        its epoch race never comes back to claim its entry)."""
        self._merged[commit_hash] = merged
        while len(self._merged) > MAX_MERGED_KEPT:
            del self._merged[next(iter(self._merged))]

    async def _send(self, group_id: bytes, data: bytes, payload: IntentPayload) -> None:
        out = outgoing(group_id, data, self.keys, bool(payload.params.get("should_push", True)))
        await self.node.send_group_messages([NewGroupMessage(out.data, out.sender_hmac, out.should_push)])

    async def _commit_inputs(self, payload: IntentPayload) -> CommitInputs:
        sequence_ids: dict[str, int] = {}
        packages: list[PeerKeyPackage] = []
        for inbox_id in payload.params["inbox_ids"]:
            seq = await self.resolver.latest_sequence_id(inbox_id)
            sequence_ids[inbox_id] = seq
            installations = sorted(await self.resolver.installations_at(inbox_id, seq))
            for data in await self.node.fetch_key_packages(installations):
                if data is None:
                    continue
                try:
                    packages.append(parse_key_package(data, expected_inbox_id=inbox_id))
                except XmtpMlsError as exc:
                    log.warning("skipping an invalid key package of %s: %s", inbox_id, exc)
        return CommitInputs(sequence_ids, packages)

    async def run_intent(
        self, group_id: bytes, payload: IntentPayload, own_copy: StoredMessage | None = None
    ) -> Intent:
        """Create an intent, publish it and sync until it is final (or left open after repeated conflicts).
        A message is built and stored with its intent in one transaction; a commit's intent is stored first
        (its key-package look-ups go to the network) and published by `_publish`."""
        if payload.kind is IntentKind.SEND_MESSAGE:
            return await self._run_send(group_id, payload, own_copy)
        intent = await self._create_intent(group_id, payload, own_copy)
        return await self._settle(group_id, intent.id)

    async def _settle(self, group_id: bytes, intent_id: int, cursor: int | None = None) -> Intent:
        """Sync until intent ``intent_id`` is final (or left open after repeated conflicts); returns it."""
        self._watched.add(intent_id)
        try:
            _, result = await self._sync(group_id, cursor=cursor, watch=intent_id)
        finally:
            self._watched.discard(intent_id)
            self._finished.pop(intent_id, None)
        if result is None:
            result = await self.intent(intent_id)
        assert result is not None
        return result

    async def _run_send(self, group_id: bytes, payload: IntentPayload, own_copy: StoredMessage | None) -> Intent:
        """A message in one transaction: our copy, the advanced sending ratchet and the intent, stored already
        Published with its envelope. The group is pulled to the head first so the message is encrypted at the
        newest epoch. A crash before that transaction leaves nothing behind (the caller saw no result); after
        it, resume republishes the stored envelope until its echo comes back."""
        cursor, _ = await self._pull(group_id, await self._cursor(group_id))
        async with self.store.transaction() as s:
            lease = await self._checkout(s, group_id)
            if own_copy is not None:
                await self.store.messages.insert(s, own_copy)
            try:
                built, merged = await self._build(s, lease, payload, None)
            except (Rejected, EngineError, XmtpMlsError, MLSError) as exc:
                intent = await self.store.intents.create(s, group_id, payload.kind.value, payload.to_bytes())
                return await self.store.intents.transition(s, intent.id, IntentState.ERROR, error=str(exc))
            payload = IntentPayload(payload.kind, payload.params, built)
            published_hash = data_hash(built.data)
            intent = await self.store.intents.create(
                s, group_id, payload.kind.value, payload.to_bytes(), published_hash=published_hash
            )
        self._built(lease, built, merged)
        await self._send(group_id, built.data, payload)
        return await self._settle(group_id, intent.id, cursor)

    async def resume(self) -> list[Event]:
        """After a restart: every conversation with open intents is pulled to the head and its intents finished."""
        async with self.store.transaction() as s:
            open_intents = await self.store.intents.list_by_state(s, OPEN_INTENTS)
        events: list[Event] = []
        for group_id in dict.fromkeys(i.group_id for i in open_intents):
            events.extend(await self.sync_group(group_id))
        return events

    # ---- public operations ---------------------------------------------------------------------------------

    async def create_dm(self, peer_inbox_id: str) -> bytes:
        async with self.store.transaction() as s:
            existing = await self.store.conversations.find_dm(s, peer_inbox_id)
        if existing is not None:
            return existing.group_id
        group = new_dm(self.keys, await self.resolver.latest_sequence_id(self.keys.inbox_id), peer_inbox_id)
        async with self.store.transaction() as s:
            await self._save_conversation(s, group_conversation(group, self.keys.inbox_id), group)
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
            await self._save_conversation(s, group_conversation(group, self.keys.inbox_id), group)
        self._follow(group.group_id)
        if inbox_ids:
            await self._require(await self.run_intent(group.group_id, add_members_intent(list(inbox_ids))))
        return group.group_id

    async def send(self, group_id: bytes, content: object, *, content_type: ContentTypeId | None = None) -> SendResult:
        """Encode with the registry, store our copy, publish as an intent and wait for the echo."""
        prepared = self.registry.prepare(content, content_type=content_type)
        key = new_idempotency_key()
        payload = send_message_intent(prepared.payload, key, should_push=prepared.should_push)
        msg_id = message_id(group_id, key, prepared.payload)
        stored = StoredMessage(
            msg_id, group_id, self.keys.inbox_id, self.keys.installation_key, _now_ns(),
            str(prepared.encoded.type), prepared.payload, DeliveryStatus.UNPUBLISHED,
        )  # fmt: skip
        intent = await self.run_intent(group_id, payload, stored)  # the echo marks our copy published
        if intent.state is IntentState.ERROR:
            async with self.store.transaction() as s:
                await self.store.messages.set_delivery_status(s, msg_id, DeliveryStatus.FAILED)
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
        """Welcomes and group messages as they arrive (Subscription-based, reconnecting); new groups are
        followed as soon as we join them."""
        async with self.store.transaction() as s:
            convs = await self.store.conversations.list_by_state(s)
            cursors = {c.group_id: await self.store.cursors.get(s, group_topic(c.group_id)) for c in convs}
            welcome_cursor = await self.store.cursors.get(s, welcome_topic(self.keys.installation_key))
        queue: asyncio.Queue[GroupMessage | WelcomeMessage] = asyncio.Queue()
        groups = self.node.subscribe_group_messages(cursors)
        self._streamed_groups = groups
        welcomes = self.node.subscribe_welcome_messages({self.keys.installation_key: welcome_cursor})

        async def pump(source: Any) -> None:
            async for item in source:
                await queue.put(item)

        tasks = [asyncio.create_task(pump(groups)), asyncio.create_task(pump(welcomes))]
        try:
            while True:
                item = await queue.get()
                if isinstance(item, WelcomeMessage):
                    events = await self.handle_welcome(item)
                    for e in events:
                        if isinstance(e, ConversationJoined):
                            groups.add(e.conversation.group_id, e.message_cursor)
                    if events and isinstance(events[0], ConversationJoined):
                        await self.rotate_key_package()
                else:
                    events = await self.handle_group_message(item)
                for event in events:
                    yield event
        finally:
            self._streamed_groups = None
            for task in tasks:
                task.cancel()
            await groups.aclose()
            await welcomes.aclose()


def _own_update(before: tuple[Extension, ...], after: Group, own_inbox_id: str) -> GroupUpdated:
    summary = summarize_commit(parse_group_extensions(before), parse_group_extensions(after.extensions), own_inbox_id)
    return group_updated_from_commit(summary)


def _members_changed(update: GroupUpdated) -> bool:
    """Whether a commit changed the member inboxes (the stored member list is rewritten only then: at 250
    members that rewrite costs more than the rest of the commit's bookkeeping)."""
    return bool(update.added_inboxes or update.removed_inboxes or update.left_inboxes)


def _content_of(payload: IntentPayload) -> bytes:
    """The EncodedContent bytes a SEND_MESSAGE intent carries."""
    return base64.b64decode(payload.params["content"])
