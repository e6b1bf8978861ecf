"""`Core`: what every part of the runtime shares (node, store, installation keys, registry, identity resolver,
group cache, commits kept for their echo, the intents callers wait for), and the state helpers they all use.

The parts, one role each: `installation` (register, open, key packages), `inbound` (one envelope, atomically
and guarded), `outbound` (intents built and published), `sync` (pulling to the node's head and settling
intents), `outbox` (events' durable form); `runtime.Runtime` composes them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.content.registry import ContentRegistry
from xmtp_core.engine import ConversationInfo, EnvelopeRejected, InstallationKeys
from xmtp_core.mls.extensions import Extension
from xmtp_core.mls.group import Group
from xmtp_core.node import NewGroupMessage, NewWelcome, NewWelcomePointer, NodeClient
from xmtp_core.runtime.group_cache import GroupCache, Lease
from xmtp_core.runtime.identity import NodeIdentityResolver
from xmtp_core.store import Conversation, ConversationState, GroupState, Intent, Store

MAX_MERGED_KEPT = 8  # post-commit groups kept in memory for their echo (normally one per conversation)


class UnknownConversation(LookupError):
    """The store holds no conversation of that id (a command or a caller named one we never joined)."""


def group_topic(group_id: bytes) -> str:
    """The store's topic name of a group's envelopes (cursors, dedup marks, rejections)."""
    return f"group:{group_id.hex()}"


def welcome_topic(installation_key: bytes) -> str:
    """The store's topic name of an installation's Welcomes."""
    return f"welcome:{installation_key.hex()}"


def now_ns() -> int:
    return time.time_ns()


@dataclass(frozen=True)
class Outgoing:
    """Which build of which intent an envelope batch is: the bus derives its message id from it."""

    intent_id: int
    build: int
    group_id: bytes
    welcomes: bool = False


class EnvelopeSender(Protocol):
    """Where built envelopes go: straight to the node (`NodeSender`), or through the bus to the publisher.
    Returns when the node accepted them; raises on failure (a transient one leaves the intent to republish)."""

    async def send_group_messages(self, what: Outgoing, messages: Sequence[NewGroupMessage]) -> None: ...

    async def send_welcome_messages(
        self, what: Outgoing, welcomes: Sequence[NewWelcome | NewWelcomePointer]
    ) -> None: ...


@dataclass(frozen=True)
class NodeSender:
    node: NodeClient

    async def send_group_messages(self, what: Outgoing, messages: Sequence[NewGroupMessage]) -> None:
        await self.node.send_group_messages(messages)

    async def send_welcome_messages(self, what: Outgoing, welcomes: Sequence[NewWelcome | NewWelcomePointer]) -> None:
        await self.node.send_welcome_messages(welcomes)


@dataclass(frozen=True)
class Merged:
    """A commit we published, merged in memory: the group after it, the epoch it was made in and the
    group-context extensions it was made on (all its echo needs of the group before it)."""

    group: Group
    epoch: int
    before: tuple[Extension, ...]

    def __repr__(self) -> str:
        return f"Merged(group_id={self.group.group_id.hex()}, epoch={self.epoch})"


class MergedCommits:
    """Our commits' merged groups by the hash of the commit's bytes, so the echo need not deserialise the stored
    post-commit state again (tens of ms at 250 members). A miss falls back to the stored bytes; the oldest go
    first (a commit that lost its epoch race never comes back to claim its entry)."""

    def __init__(self, capacity: int = MAX_MERGED_KEPT) -> None:
        self._entries: dict[bytes, Merged] = {}
        self._capacity = capacity

    def keep(self, commit_hash: bytes, merged: Merged) -> None:
        self._entries[commit_hash] = merged
        while len(self._entries) > self._capacity:
            del self._entries[next(iter(self._entries))]

    def get(self, commit_hash: bytes) -> Merged | None:
        return self._entries.get(commit_hash)

    def pop(self, commit_hash: bytes) -> Merged | None:
        return self._entries.pop(commit_hash, None)


@dataclass
class IntentWatch:
    """Intents a running settle waits for, and those an echo's committed transaction made final."""

    watched: set[int] = field(default_factory=set)
    finished: dict[int, Intent] = field(default_factory=dict)

    def finish(self, intent: Intent) -> None:
        if intent.id in self.watched:
            self.finished[intent.id] = intent


@dataclass
class Core:
    node: NodeClient
    store: Store
    keys: InstallationKeys
    registry: ContentRegistry
    resolver: NodeIdentityResolver
    groups: GroupCache
    sender: EnvelopeSender
    merged: MergedCommits = field(default_factory=MergedCommits)
    watch: IntentWatch = field(default_factory=IntentWatch)
    rejections: list[EnvelopeRejected] = field(default_factory=list)
    # Set whenever a transaction of this process committed outbox events (the stream drains on it).
    events_ready: asyncio.Event = field(default_factory=asyncio.Event)

    def __repr__(self) -> str:
        return f"Core(inbox_id={self.keys.inbox_id}, installation={self.keys.installation_key.hex()})"

    @property
    def welcome_topic(self) -> str:
        return welcome_topic(self.keys.installation_key)

    async def load_group(self, s: AsyncSession, group_id: bytes) -> Group:
        state = await self.store.group_states.load_current(s, group_id)
        if state is None:
            raise UnknownConversation(f"no conversation {group_id.hex()}")
        return Group.from_bytes(state.state)

    async def save_group(
        self, s: AsyncSession, group: Group, state: bytes | None = None, *, new_epoch: bool = True
    ) -> None:
        """``state``: ``group`` already serialised, when the caller has those bytes. ``new_epoch=False``: the
        same epoch as stored (a message sent or received), so there is nothing to prune."""
        serialised = group.to_bytes() if state is None else state
        await self.store.group_states.save(s, GroupState(group.group_id, group.epoch, serialised), prune=new_epoch)

    async def save_conversation(self, s: AsyncSession, info: ConversationInfo, group: Group) -> None:
        """A conversation we created or joined: its row (active again when it was left), members and state."""
        conv = Conversation(group.group_id, info.kind, now_ns(), info.dm_peer_inbox_id)
        if not await self.store.conversations.save(s, conv):
            await self.store.conversations.set_state(s, group.group_id, ConversationState.ACTIVE)
        await self.store.conversations.set_members(s, group.group_id, list(info.members))
        await self.save_group(s, group)

    async def checkout(self, s: AsyncSession, group_id: bytes) -> Lease:
        lease = await self.groups.checkout(s, group_id)
        if lease is None:
            raise UnknownConversation(f"no conversation {group_id.hex()}")
        return lease
