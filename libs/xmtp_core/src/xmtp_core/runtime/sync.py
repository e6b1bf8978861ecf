"""Sync: pulling a conversation (or the welcome topic) to the node's head through `Inbound`, publishing what is
pending through `Outbound`, and settling an intent (sync until its echo makes it final).

Every envelope a pull handles puts its events in the outbox, so what a send's pull or resume handles reaches
the application like anything streamed; the lists these methods return are the same events, for callers that
drive the runtime by hand."""

from __future__ import annotations

from xmtp_core.engine import ConversationJoined, Event, IntentKind, IntentPayload, may_move_epoch
from xmtp_core.runtime.core import Core, group_topic
from xmtp_core.runtime.inbound import Inbound
from xmtp_core.runtime.installation import KeyPackages
from xmtp_core.runtime.outbound import MAX_COMMIT_ATTEMPTS, OPEN_INTENTS, Outbound
from xmtp_core.store import Intent, IntentState, StoredMessage


class Sync:
    def __init__(self, core: Core, inbound: Inbound, outbound: Outbound, key_packages: KeyPackages) -> None:
        self.core = core
        self.inbound = inbound
        self.outbound = outbound
        self.key_packages = key_packages

    async def welcomes(self) -> list[Event]:
        core = self.core
        async with core.store.transaction() as s:
            cursor = await core.store.cursors.get(s, core.welcome_topic)
        events: list[Event] = []
        async for msg in core.node.iter_welcome_messages(core.keys.installation_key, cursor=cursor):
            events.extend(await self.inbound.handle_welcome(msg))
        if any(isinstance(e, ConversationJoined) for e in events):
            await self.key_packages.rotate_if_due()  # owed when the Welcome used the newest one
        return events

    async def all(self) -> list[Event]:
        await self.key_packages.rotate_if_due()
        events = await self.welcomes()
        async with self.core.store.transaction() as s:
            convs = await self.core.store.conversations.list_by_state(s)
        for conv in convs:
            events.extend(await self.group(conv.group_id))
        return events

    async def group(self, group_id: bytes) -> list[Event]:
        """Pull the group to the node's head, then publish what is pending, until nothing is left to do."""
        return (await self._sync(group_id))[0]

    async def resume(self) -> list[Event]:
        """After a restart: every conversation with open intents is pulled to the head and its intents finished."""
        async with self.core.store.transaction() as s:
            open_intents = await self.core.store.intents.list_by_state(s, OPEN_INTENTS)
        events: list[Event] = []
        for group_id in dict.fromkeys(i.group_id for i in open_intents):
            events.extend(await self.group(group_id))
        return events

    async def run_intent(
        self,
        group_id: bytes,
        payload: IntentPayload,
        own_copy: StoredMessage | None = None,
        *,
        settle: bool = True,
        cursor: int | None = None,
        epoch: int | None = None,
    ) -> Intent:
        """Create an intent, publish it and (``settle``) sync until it is final (or left open after repeated
        conflicts). A message is encrypted at the node's newest epoch (`_to_newest_epoch`); ``cursor`` and
        ``epoch`` are the group's stored ones when the caller read them already."""
        if payload.kind is IntentKind.SEND_MESSAGE:
            cursor = await self._to_newest_epoch(group_id, cursor, epoch)
            intent = await self.outbound.send_message(group_id, payload, own_copy)
            if intent.state is IntentState.ERROR or not settle:
                return intent
            return await self.settle(group_id, intent.id, cursor)
        intent = await self.outbound.create_intent(group_id, payload, own_copy)
        return await self.settle(group_id, intent.id)

    async def _to_newest_epoch(self, group_id: bytes, cursor: int | None, epoch: int | None) -> int:
        """Before a message is encrypted: pull the group to the node's head only when the node's newest envelope
        may have moved its epoch (`may_move_epoch`); returns the cursor to settle from. Only a commit moves the
        epoch, so a backlog of application messages stays for the stream: a send never decrypts it inline,
        which under load made commands outlast their callers' wait. One read either way."""
        if cursor is None or epoch is None:
            cursor, epoch = await self._position(group_id)
        newest = (await self.core.node.get_newest_group_messages([group_id], include_content=True)).get(group_id)
        if newest is None or newest.id <= cursor or epoch is None or not may_move_epoch(newest, epoch):
            return cursor
        cursor, _ = await self._pull(group_id, cursor)
        return cursor

    async def settle(self, group_id: bytes, intent_id: int, cursor: int | None = None) -> Intent:
        """Sync until intent ``intent_id`` is final (or left open after repeated conflicts); returns it."""
        watch = self.core.watch
        watch.watched.add(intent_id)
        try:
            _, result = await self._sync(group_id, cursor=cursor, watch=intent_id)
        finally:
            watch.watched.discard(intent_id)
            watch.finished.pop(intent_id, None)
        if result is None:
            async with self.core.store.transaction() as s:
                result = await self.core.store.intents.get(s, intent_id)
        assert result is not None
        return result

    async def _sync(
        self, group_id: bytes, *, cursor: int | None = None, watch: int | None = None
    ) -> tuple[list[Event], Intent | None]:
        """`group` from ``cursor`` (read from the store when None), also returning intent ``watch`` when the
        last look at the open intents found it final (None otherwise: read it again)."""
        events: list[Event] = []
        if cursor is None:
            cursor = await self._cursor(group_id)
        watched: Intent | None = None
        for _ in range(MAX_COMMIT_ATTEMPTS * 4):
            cursor, pulled = await self._pull(group_id, cursor)
            events.extend(pulled)
            if watch is not None and (watched := self.core.watch.finished.pop(watch, None)) is not None:
                # Its echo finished it: done. Other open intents are their own callers' (or resume's) to publish.
                break
            sent, watched = await self.outbound.publish_pending(group_id, watch)
            if not sent:
                break
        return events, watched

    async def _position(self, group_id: bytes) -> tuple[int, int | None]:
        """The group's stored cursor and current epoch."""
        async with self.core.store.transaction() as s:
            cursor = await self.core.store.cursors.get(s, group_topic(group_id))
            return cursor, await self.core.store.group_states.current_epoch(s, group_id)

    async def _cursor(self, group_id: bytes) -> int:
        async with self.core.store.transaction() as s:
            return await self.core.store.cursors.get(s, group_topic(group_id))

    async def _pull(self, group_id: bytes, cursor: int) -> tuple[int, list[Event]]:
        """Handle what the node has after ``cursor``; returns the last id seen. Within one sync the stored
        cursor is not read again: anything another process handled meanwhile is skipped by its dedup mark."""
        events: list[Event] = []
        async for envelope in self.core.node.iter_group_messages(group_id, cursor=cursor):
            events.extend(await self.inbound.handle_group_message(envelope))
            cursor = max(cursor, envelope.id)
        return cursor, events
