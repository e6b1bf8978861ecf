"""Outbound intents: what we want to change or say in a conversation, built into an envelope and published.

An intent moves ToPublish -> Published -> (Committed ->) Processed, or Error with a reason. A message is built
and stored with its intent (already Published, with its envelope) in one transaction; a commit's intent is
stored first, because its key-package look-ups go to the network, and built on the conversation's current
group when it is published. Building needs no pull: `sync` pulls to the node's head before and settles after.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.engine import (
    CommitInputs,
    EngineError,
    IntentKind,
    IntentPayload,
    Rejected,
    build_application,
    build_commit_in_place,
    data_hash,
    outgoing,
    welcome_messages,
)
from xmtp_core.engine.creating import Built
from xmtp_core.mls.errors import MLSError
from xmtp_core.node import NewGroupMessage, NodeRejected
from xmtp_core.runtime.core import Core, Merged, Outgoing
from xmtp_core.runtime.group_cache import Lease
from xmtp_core.store import Intent, IntentState, StoredMessage, conversation_lock
from xmtp_core.untrusted import clean_error
from xmtp_core.xmtp_mls.errors import XmtpMlsError
from xmtp_core.xmtp_mls.key_package import PeerKeyPackage, parse_key_package

log = logging.getLogger(__name__)

MAX_COMMIT_ATTEMPTS = 5
OPEN_INTENTS = (IntentState.TO_PUBLISH, IntentState.PUBLISHED, IntentState.COMMITTED)
BUILD_ERRORS = (Rejected, EngineError, XmtpMlsError, MLSError)


class Outbound:
    def __init__(self, core: Core) -> None:
        self.core = core

    async def create_intent(
        self, group_id: bytes, payload: IntentPayload, own_copy: StoredMessage | None = None
    ) -> Intent:
        """Store the intent (and, for a send, our copy of the message) in one transaction."""
        store = self.core.store
        async with store.transaction() as s, conversation_lock(s, group_id):
            if own_copy is not None:
                await store.messages.insert(s, own_copy)
            return await store.intents.create(s, group_id, payload.kind.value, payload.to_bytes())

    async def send_message(self, group_id: bytes, payload: IntentPayload, own_copy: StoredMessage | None) -> Intent:
        """A message in one transaction: our copy, the advanced sending ratchet and the intent, stored already
        Published with its envelope; then the envelope goes to the node. A crash before that transaction leaves
        nothing behind (the caller saw no result); after it, resume republishes the stored envelope until its
        echo comes back. The caller brought the group to the node's newest epoch first (`Sync.run_intent`)."""
        store = self.core.store
        async with store.transaction() as s:
            lease = await self.core.checkout(s, group_id)
            if own_copy is not None:
                await store.messages.insert(s, own_copy)
            try:
                built, merged = await self._build(s, lease, payload, None)
            except BUILD_ERRORS as exc:
                intent = await store.intents.create(s, group_id, payload.kind.value, payload.to_bytes())
                return await store.intents.transition(s, intent.id, IntentState.ERROR, error=clean_error(exc))
            payload = IntentPayload(payload.kind, payload.params, built)
            intent = await store.intents.create(
                s, group_id, payload.kind.value, payload.to_bytes(), published_hash=data_hash(built.data)
            )
        self._built(lease, built, merged)
        await self._send(Outgoing(intent.id, intent.attempts, group_id), built.data, payload)
        return intent

    async def publish_pending(self, group_id: bytes, watch: int | None = None) -> tuple[bool, Intent | None]:
        """Publish or republish this group's open intents; True when something went out (pull again). Also
        intent ``watch`` when it is final, read in the same transaction (None when it is still open)."""
        store = self.core.store
        watched: Intent | None = None
        async with store.transaction() as s:
            intents = await store.intents.list_by_state(s, OPEN_INTENTS, group_id=group_id)
            if watch is not None and all(i.id != watch for i in intents):
                watched = await store.intents.get(s, watch)
        sent = False
        for intent in intents:
            if intent.state is IntentState.COMMITTED:
                payload = IntentPayload.from_bytes(intent.payload)
                assert payload.built is not None
                await self.send_welcomes(intent, payload.built)
                continue
            sent = await self.publish(intent) or sent
        return sent, watched

    async def publish(self, intent: Intent) -> bool:
        """Publish one open intent (rebuilt on the current epoch when its commit lost a race); True when an
        envelope went out."""
        store = self.core.store
        payload = IntentPayload.from_bytes(intent.payload)
        if intent.state is IntentState.PUBLISHED and payload.built is not None:
            # Still unseen after a pull to the node's head: it never reached the node, or lost the epoch race.
            async with store.transaction() as s:
                group = await self.core.load_group(s, intent.group_id)
            if not payload.is_commit or payload.built.epoch == group.epoch:
                await self._send(Outgoing(intent.id, intent.attempts, intent.group_id), payload.built.data, payload)
                return True
            async with store.transaction() as s:
                if intent.attempts >= MAX_COMMIT_ATTEMPTS:
                    await store.intents.transition(s, intent.id, IntentState.ERROR, error="epoch conflict: gave up")
                    return False
                intent = await store.intents.transition(s, intent.id, IntentState.TO_PUBLISH)
        inputs = await self._commit_inputs(payload) if payload.kind is IntentKind.ADD_MEMBERS else None
        async with store.transaction() as s:
            lease = await self.core.checkout(s, intent.group_id)
            try:
                built, merged = await self._build(s, lease, payload, inputs)
            except BUILD_ERRORS as exc:
                await store.intents.transition(s, intent.id, IntentState.ERROR, error=clean_error(exc))
                return False
            payload = IntentPayload(payload.kind, payload.params, built)
            await store.intents.set_payload(s, intent.id, payload.to_bytes())
            intent = await store.intents.transition(
                s, intent.id, IntentState.PUBLISHED, published_hash=data_hash(built.data)
            )
        self._built(lease, built, merged)
        await self._send(Outgoing(intent.id, intent.attempts, intent.group_id), built.data, payload)
        return True

    async def send_welcomes(self, intent: Intent, built: Built) -> None:
        """Send a merged commit's Welcomes once: under the conversation lock, only while still Committed."""
        store = self.core.store
        async with store.transaction() as s, conversation_lock(s, intent.group_id):
            current = await store.intents.get(s, intent.id)
            if current is None or current.state is not IntentState.COMMITTED:
                return  # another task of this process (or another process) already sent them
            assert current.published_id is not None
            what = Outgoing(intent.id, current.attempts, intent.group_id, welcomes=True)
            await self.core.sender.send_welcome_messages(what, welcome_messages(built, current.published_id))
            await store.intents.transition(s, intent.id, IntentState.PROCESSED)

    async def _build(
        self, s: AsyncSession, lease: Lease, payload: IntentPayload, inputs: CommitInputs | None
    ) -> tuple[Built, Merged | None]:
        """Build an intent's envelope on the leased group: a message advances (and stores) the sending
        ratchet; a commit is made on the group itself, which becomes the merged group kept for the echo.
        After an error the lease is not to be checked in (the group may be half-changed)."""
        group = await self.core.groups.group(s, lease)
        lease.consumed = True  # changed in place; it comes back only once stored
        if payload.is_commit:
            before = group.extensions
            built, after = build_commit_in_place(group, payload, self.core.keys, inputs)
            return built, Merged(after, built.epoch, before)
        built, _ = build_application(group, payload, self.core.keys)
        await self.core.save_group(s, group, new_epoch=False)
        lease.consumed, lease.saved = False, True
        return built, None

    def _built(self, lease: Lease, built: Built, merged: Merged | None) -> None:
        """After the building transaction committed: the group back in the cache, a commit's merge kept."""
        self.core.groups.checkin(lease)
        if merged is not None:
            self.core.merged.keep(data_hash(built.data), merged)

    async def _send(self, what: Outgoing, data: bytes, payload: IntentPayload) -> None:
        """The envelope to the node. Refused for good (`NodeRejected`): the intent ends in Error with the node's
        reason (a republish would be refused again), then the error goes on to the caller."""
        out = outgoing(what.group_id, data, self.core.keys, bool(payload.params.get("should_push", True)))
        try:
            await self.core.sender.send_group_messages(
                what, [NewGroupMessage(out.data, out.sender_hmac, out.should_push)]
            )
        except NodeRejected as exc:
            await self._refused(what, exc)
            raise

    async def _refused(self, what: Outgoing, exc: NodeRejected) -> None:
        store = self.core.store
        async with store.transaction() as s, conversation_lock(s, what.group_id):
            current = await store.intents.get(s, what.intent_id)
            if current is not None and current.state is IntentState.PUBLISHED:  # not finished by its echo meanwhile
                error = f"refused by the node: {clean_error(exc)}"
                await store.intents.transition(s, what.intent_id, IntentState.ERROR, error=error)

    async def _commit_inputs(self, payload: IntentPayload) -> CommitInputs:
        core = self.core
        sequence_ids: dict[str, int] = {}
        packages: list[PeerKeyPackage] = []
        for inbox_id in payload.params["inbox_ids"]:
            seq = await core.resolver.latest_sequence_id(inbox_id)
            sequence_ids[inbox_id] = seq
            installations = sorted(await core.resolver.installations_at(inbox_id, seq))
            for data in await core.node.fetch_key_packages(installations):
                if data is None:
                    continue
                try:
                    packages.append(parse_key_package(data, expected_inbox_id=inbox_id))
                except XmtpMlsError as exc:
                    log.warning("skipping an invalid key package of %s: %s", inbox_id, clean_error(exc))
        return CommitInputs(sequence_ids, packages)
