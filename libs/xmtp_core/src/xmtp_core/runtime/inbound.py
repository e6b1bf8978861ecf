"""Inbound processing: one envelope at a time, atomically and guarded.

Every envelope is handled in one transaction under its conversation's lock: the MLS state of the new epoch,
the cursor, the processed-envelope mark, the stored messages, intent moves and **every event it produced (in
the outbox)** commit together, so a crash at any point resumes from the stored state, nothing is applied
twice, and no event is lost whoever pulled the envelope (a stream, a sync, a send's own pull, resume).

Every envelope ends in exactly one of: processed; rejected with a recorded reason (the engine's typed
rejections, or `guard`'s `unexpected` for anything else); or left for a retry (`guard.Transient`).

A message is one message id (SHA-256 of group, PlaintextEnvelope idempotency key and content): a second envelope
carrying an id already stored (a sender's retried publish, a replay) is processed but emits no event.

Node order holds even when a stream delivers out of it: an envelope that names its predecessor on the topic
(``prev_id``, from ingest) while the stored cursor is behind that predecessor is handled only after the envelopes
in between were pulled from the node and handled (each once: the stream's copies of them find their marks)."""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.content.codecs.group import GROUP_UPDATED, GroupUpdated
from xmtp_core.content.envelope import message_id
from xmtp_core.engine import (
    EnvelopeRejected,
    Event,
    GroupUpdatedEvent,
    IntentKind,
    IntentPayload,
    MessageReceived,
    Outcome,
    OwnEcho,
    Rejected,
    RejectReason,
    data_hash,
    group_conversation,
    join_welcome,
    open_pointee,
    open_welcome,
    own_commit_update,
    process_envelope,
)
from xmtp_core.engine.creating import Built
from xmtp_core.mls.group import Group
from xmtp_core.node import GroupMessage, WelcomeMessage
from xmtp_core.runtime.core import Core, group_topic, now_ns
from xmtp_core.runtime.group_cache import Lease
from xmtp_core.runtime.guard import FailureCounts, Transient, is_transient
from xmtp_core.runtime.installation import KeyPackages
from xmtp_core.runtime.outbox import event_id, to_outbox
from xmtp_core.store import (
    ConversationState,
    DeliveryStatus,
    Intent,
    IntentState,
    NotFoundError,
    Rejection,
    StoredMessage,
    conversation_lock,
)
from xmtp_core.untrusted import FIELD_LIMIT, clean, clean_error
from xmtp_core.xmtp_mls.key_package import KeyPackageBundle
from xmtp_core.xmtp_mls.welcome_wrapper import UnwrappedWelcome, WelcomePointer

log = logging.getLogger(__name__)
# The newest rejections kept in memory for `Runtime.rejections` (all are in the store's rejections table).
MAX_REJECTIONS_KEPT = 1000

WelcomeSender = Callable[[Intent, Built], Awaitable[None]]  # sends a merged commit's Welcomes once (outbound)


class _Gap(Exception):
    """The stored cursor is behind the envelope's predecessor: the envelopes in between come first."""

    def __init__(self, cursor: int) -> None:
        super().__init__(f"cursor {cursor} is behind the envelope's predecessor")
        self.cursor = cursor


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


class Inbound:
    def __init__(self, core: Core, key_packages: KeyPackages, send_welcomes: WelcomeSender) -> None:
        self.core = core
        self.key_packages = key_packages
        self._send_welcomes = send_welcomes
        self._failures = FailureCounts()

    # ---- the guard -----------------------------------------------------------------------------------------

    async def handle_group_message(self, envelope: GroupMessage, prev_id: int | None = None) -> list[Event]:
        """One group envelope: processed, rejected with a reason, or `Transient` raised (left for a retry).
        ``prev_id``: the envelope before it on the topic; what the store lacks up to it is pulled first."""
        topic = group_topic(envelope.group_id)
        try:
            events, after = await self._group_message(envelope, prev_id)
        except _Gap as gap:
            return await self._catch_up(envelope, gap.cursor)
        except Exception as exc:
            return await self._failed(topic, envelope.group_id, envelope.id, exc)
        self._failures.done(topic, envelope.id)
        await self._after_commit(after)
        return events

    async def _catch_up(self, envelope: GroupMessage, cursor: int) -> list[Event]:
        """The node's envelopes after ``cursor`` up to ``envelope``, in node order, then ``envelope`` itself (a
        duplicate by then, unless the node lacks it). Bounded: the pull stops at ``envelope``'s id."""
        log.warning(
            "envelope %s on %s came before envelopes it follows: pulling them from %s",
            envelope.id, group_topic(envelope.group_id), cursor,
        )  # fmt: skip
        topic = group_topic(envelope.group_id)
        events: list[Event] = []
        try:
            async for earlier in self.core.node.iter_group_messages(envelope.group_id, cursor=cursor):
                if earlier.id >= envelope.id:
                    break
                events.extend(await self.handle_group_message(earlier))
        except Transient:
            raise  # an earlier envelope is left for a retry: so is this one (what was handled stays handled)
        except Exception as exc:  # the pull itself failed: retried while it may pass, then the envelope goes on
            if is_transient(exc) and not self._failures.failed(topic, envelope.id):
                raise Transient(topic, envelope.id, exc) from exc
            log.warning("envelope %s on %s handled without the pull: %s", envelope.id, topic, clean_error(exc))
        return events + await self.handle_group_message(envelope)

    async def handle_welcome(self, msg: WelcomeMessage) -> list[Event]:
        """One Welcome: joined (or re-joined), rejected with a reason, or `Transient` raised."""
        topic = self.core.welcome_topic
        try:
            events = await self._welcome(msg)
        except Exception as exc:
            return await self._failed(topic, msg.installation_key, msg.id, exc)
        self._failures.done(topic, msg.id)
        return events

    async def _failed(self, topic: str, conversation: bytes, envelope_id: int, exc: Exception) -> list[Event]:
        if is_transient(exc) and not self._failures.failed(topic, envelope_id):
            log.warning("envelope %s on %s left for a retry: %s", envelope_id, topic, clean_error(exc))
            raise Transient(topic, envelope_id, exc) from exc
        reason = RejectReason.RETRIES_EXHAUSTED if is_transient(exc) else RejectReason.UNEXPECTED
        log.error("envelope %s on %s is poison (%s): %s", envelope_id, topic, reason, clean_error(exc))
        self._failures.done(topic, envelope_id)
        self.core.groups.forget(conversation)  # whatever it did in memory is not the stored truth
        event = EnvelopeRejected(conversation, envelope_id, reason, clean_error(exc))
        try:
            async with self.core.store.transaction() as s:
                if not await self.core.store.envelopes.mark(s, topic, envelope_id):
                    return []
                await self._reject(s, topic, event)
                await self.core.store.cursors.advance(s, topic, envelope_id)
        except Exception as again:
            raise Transient(topic, envelope_id, again) from again
        self.core.events_ready.set()
        return [event]

    # ---- records -------------------------------------------------------------------------------------------

    async def _emit(
        self, s: AsyncSession, topic: str, envelope_id: int, conversation: bytes, events: list[Event]
    ) -> None:
        """Put an envelope's events in the outbox, in its transaction."""
        for n, event in enumerate(events):
            row = to_outbox(event, event_id(topic, envelope_id, n), conversation, self.core.registry)
            await self.core.store.outbox.add(s, row)

    async def _reject(self, s: AsyncSession, topic: str, event: EnvelopeRejected, *, emit: bool = True) -> None:
        """Keep the refusal (reason and cleaned detail, no plaintext) in the store, in the envelope's
        transaction, and owe it to the application through the outbox."""
        detail = clean(event.detail)
        log.warning("rejected envelope %s on %s: %s (%s)", event.envelope_id, topic, event.reason, detail)
        await self.core.store.rejections.record(s, Rejection(topic, event.envelope_id, event.reason.value, detail))
        self.core.rejections.append(event)
        if len(self.core.rejections) > MAX_REJECTIONS_KEPT:  # hostile traffic must not grow a long-lived process
            del self.core.rejections[: -MAX_REJECTIONS_KEPT // 2]
        if emit:
            await self._emit(s, topic, event.envelope_id, event.topic, [event])

    # ---- welcomes ------------------------------------------------------------------------------------------

    async def _open(self, msg: WelcomeMessage, bundles: list[KeyPackageBundle]) -> UnwrappedWelcome:
        opened = open_welcome(msg, bundles)
        if isinstance(opened, WelcomePointer):
            page = await self.core.node.query_welcome_messages(opened.destination)
            if not page.items:
                raise Rejected(RejectReason.WELCOME_INVALID, f"welcome {msg.id}: pointee not on the node")
            opened = open_pointee(msg, opened, page.items[0])
        return opened

    async def _welcome(self, msg: WelcomeMessage) -> list[Event]:
        core, topic = self.core, self.core.welcome_topic
        async with core.store.transaction() as s:
            if await core.store.envelopes.is_processed(s, topic, msg.id):
                return []
            bundles = await self.key_packages.bundles(s)
        try:
            joined = await join_welcome(msg, await self._open(msg, bundles), bundles, core.keys, core.resolver)
        except Rejected as exc:
            rejected = EnvelopeRejected(msg.installation_key, msg.id, exc.reason, exc.detail)
            async with core.store.transaction() as s:
                if await core.store.envelopes.mark(s, topic, msg.id):
                    await self._reject(s, topic, rejected)
                await core.store.cursors.advance(s, topic, msg.id)
            core.events_ready.set()
            return [rejected]
        group, event = joined.group, joined.event
        async with core.store.transaction() as s, conversation_lock(s, group.group_id):
            fresh = await core.store.envelopes.mark(s, topic, msg.id)
            known = await core.store.conversations.get(s, group.group_id)
            joins = fresh and (known is None or known.state is ConversationState.LEFT)
            if joins:
                if known is not None:
                    await self._reopen(s, group.group_id, event.message_cursor)
                await core.save_conversation(s, event.conversation, group)
                await core.store.key_packages.mark_welcome_used(s, joined.key_package_ref)
                await core.store.cursors.advance(s, group_topic(group.group_id), event.message_cursor)
                await self._emit(s, topic, msg.id, group.group_id, [event])
            await core.store.cursors.advance(s, topic, msg.id)
        if joins:
            core.events_ready.set()
        return [event] if joins else []

    async def _reopen(self, s: AsyncSession, group_id: bytes, message_cursor: int) -> None:
        """We were removed from this group and a Welcome adds us back: the old epochs go, and the group's
        envelopes after the Welcome's cursor (refused while we were out) are processed anew."""
        topic, store = group_topic(group_id), self.core.store
        await store.group_states.delete_group(s, group_id)
        await store.envelopes.forget_after(s, topic, message_cursor)
        await store.rejections.forget_after(s, topic, message_cursor)
        await store.cursors.rewind(s, topic, message_cursor)
        self.core.groups.forget(group_id)

    # ---- group messages ------------------------------------------------------------------------------------

    async def _group_message(
        self, envelope: GroupMessage, prev_id: int | None = None
    ) -> tuple[list[Event], _AfterCommit]:
        after = _AfterCommit()
        core = self.core
        async with core.store.transaction() as s:
            lease = await core.groups.checkout(s, envelope.group_id)
            if lease is None:
                # Not ours (yet): left unmarked, so the Welcome that makes it ours lets a sync pick it up.
                log.warning("envelope %s for unknown group %s skipped", envelope.id, envelope.group_id.hex())
                return [], after
            if prev_id is not None and prev_id < envelope.id:
                # Under the lock, in the envelope's transaction (no round trip of its own); nothing written yet.
                cursor = await core.store.cursors.get(s, group_topic(envelope.group_id))
                if cursor < prev_id:
                    raise _Gap(cursor)
            events = await self._handle(s, lease, envelope, after)
        core.groups.checkin(lease)
        if events:
            core.events_ready.set()
        return events, after

    async def _after_commit(self, after: _AfterCommit) -> None:
        for intent in after.finished:
            self.core.watch.finish(intent)
        for intent, built in after.welcomes:
            try:
                await self._send_welcomes(intent, built)
            except Exception as exc:  # the intent stays Committed: the next sync of its group sends them
                log.warning("welcomes of intent %s not sent yet: %s", intent.id, clean_error(exc))

    async def _handle(self, s: AsyncSession, lease: Lease, envelope: GroupMessage, after: _AfterCommit) -> list[Event]:
        core = self.core
        topic = group_topic(envelope.group_id)
        digest = data_hash(envelope.data)
        if not await core.store.envelopes.mark(s, topic, envelope.id, digest):
            return []
        kept = core.merged.get(digest)
        if kept is not None and kept.epoch == lease.epoch:
            # The very bytes of a commit we made on the current epoch: our echo, in order, without loading
            # and decrypting with the group before it (the slowest part of our own commits).
            group: Group | None = None
            outcome = Outcome([OwnEcho(envelope.group_id, envelope.id, digest, True, lease.epoch)])
        else:
            group = await core.groups.group(s, lease)
            outcome = await process_envelope(group, envelope, core.keys, core.resolver, core.registry)
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
            if await self._apply(s, topic, event):
                events.append(event)
        if changed:
            assert group is not None
            await core.save_group(s, group, serialised, new_epoch=group.epoch != lease.epoch)
            lease.group, lease.saved = group, True
        elif not all(isinstance(e, OwnEcho) for e in outcome.events):
            # A refused envelope may have been partly processed in memory: the stored group stays the truth.
            lease.consumed = True
        await self._emit(s, topic, envelope.id, envelope.group_id, events)
        await core.store.cursors.advance(s, topic, envelope.id)
        return events

    async def _apply(self, s: AsyncSession, topic: str, event: Event) -> bool:
        """Store what ``event`` changes; False when it is a repeat to drop: a message whose id is stored already
        (the same PlaintextEnvelope key and content in a second envelope, e.g. a sender's retry of a publish) is
        one message, as libxmtp keeps it, so it is not emitted again."""
        store = self.core.store
        if isinstance(event, MessageReceived):
            stored = StoredMessage(
                event.message_id, event.group_id, clean(event.sender_inbox_id, FIELD_LIMIT),
                event.sender_installation_key, event.sent_ns, clean(str(event.content.content_type), FIELD_LIMIT),
                event.encoded,
            )  # fmt: skip
            return await store.messages.insert(s, stored)
        elif isinstance(event, GroupUpdatedEvent):
            await self._store_group_updated(s, event.group_id, event.update, event.sent_ns, event.envelope_id)
            if members_changed(event.update):
                await store.conversations.set_members(s, event.group_id, list(event.conversation.members))
            if event.removed_us:
                await store.conversations.set_state(s, event.group_id, ConversationState.LEFT)
        elif isinstance(event, EnvelopeRejected):
            await self._reject(s, topic, event, emit=False)  # emitted with the envelope's other events
        return True

    async def _store_group_updated(
        self, s: AsyncSession, group_id: bytes, update: GroupUpdated, sent_ns: int, envelope_id: int
    ) -> None:
        encoded = self.core.registry.encode(update, content_type=GROUP_UPDATED).to_bytes()
        msg_id = message_id(group_id, f"commit-{envelope_id}", encoded)
        stored = StoredMessage(
            msg_id, group_id, update.initiated_by_inbox_id, b"", sent_ns, str(GROUP_UPDATED), encoded
        )
        await self.core.store.messages.insert(s, stored)

    async def _own_echo(self, s: AsyncSession, echo: OwnEcho, epoch: int, before: Group | None) -> _Echo:
        """Our envelope came back in order: a commit is merged (its stored post-commit state becomes current).
        ``epoch`` is the conversation's current epoch and ``before`` its group (None when not loaded: the
        commit is one of ours kept in memory)."""
        core = self.core
        if not echo.is_commit:
            return await self._own_message_echo(s, echo)
        intent = await core.store.intents.find_published(s, echo.group_id, echo.data_hash)
        if intent is None:
            if echo.is_commit:
                reason = RejectReason.OWN_COMMIT_UNKNOWN
                unknown = EnvelopeRejected(echo.group_id, echo.envelope_id, reason, "no intent")
                await self._reject(s, group_topic(echo.group_id), unknown, emit=False)
            return _Echo()
        payload = IntentPayload.from_bytes(intent.payload)
        if not payload.is_commit:  # a commit's bytes never match a message's intent; nothing to merge anyway
            return _Echo()
        built = payload.built
        assert built is not None and built.post_state is not None
        if built.epoch != epoch:
            return _Echo()  # it lost the race for its epoch; the intent is rebuilt after the pull
        # Without Welcomes (key updates, removals, metadata) nothing is left to do after the merge.
        done = IntentState.PROCESSED if built.welcome is None else IntentState.COMMITTED
        intent = await core.store.intents.transition(s, intent.id, done, published_id=echo.envelope_id)
        kept = core.merged.pop(echo.data_hash)
        if kept is None:
            assert before is not None
            group, before_extensions = Group.from_bytes(built.post_state), before.extensions
        else:
            group, before_extensions = kept.group, kept.before
        info = group_conversation(group, core.keys.inbox_id)
        update = own_commit_update(before_extensions, group, core.keys.inbox_id)
        now = now_ns()
        await self._store_group_updated(s, echo.group_id, update, now, echo.envelope_id)
        if members_changed(update):
            await core.store.conversations.set_members(s, echo.group_id, list(info.members))
        merged = GroupUpdatedEvent(echo.group_id, update, group.epoch, echo.envelope_id, now, info)
        if done is IntentState.PROCESSED:
            return _Echo(group, built.post_state, None, merged, finished=intent)
        return _Echo(group, built.post_state, (intent, built), merged)

    async def _own_message_echo(self, s: AsyncSession, echo: OwnEcho) -> _Echo:
        """Our application message came back: its intent is Processed (found and moved in one statement) and
        our copy Published. Nothing of the group is needed."""
        store = self.core.store
        finished = await store.intents.finish_published(
            s, echo.group_id, echo.data_hash, IntentKind.SEND_MESSAGE.value, IntentState.PROCESSED,
            published_id=echo.envelope_id,
        )  # fmt: skip
        if finished is None:
            return _Echo()
        payload = IntentPayload.from_bytes(finished.payload)
        msg_id = message_id(echo.group_id, payload.params["idempotency_key"], content_of(payload))
        with contextlib.suppress(NotFoundError):  # our copy is optional (sends through run_intent)
            await store.messages.set_delivery_status(s, msg_id, DeliveryStatus.PUBLISHED)
        return _Echo(finished=finished)


def members_changed(update: GroupUpdated) -> bool:
    """Whether a commit changed the member inboxes (the stored member list is rewritten only then: at 250
    members that rewrite costs more than the rest of the commit's bookkeeping)."""
    return bool(update.added_inboxes or update.removed_inboxes or update.left_inboxes)


def content_of(payload: IntentPayload) -> bytes:
    """The EncodedContent bytes a SEND_MESSAGE intent carries."""
    return base64.b64decode(payload.params["content"])
