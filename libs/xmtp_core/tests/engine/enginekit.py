"""In-memory XMTP peers for engine tests: installations, an identity resolver and a node, all without network."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from xmtp_core.content import GroupUpdated, default_registry
from xmtp_core.content.codecs.text import TextCodec
from xmtp_core.content.envelope import new_idempotency_key
from xmtp_core.engine import (
    CommitInputs,
    InstallationKeys,
    IntentPayload,
    add_members_intent,
    build_application,
    build_commit,
    join_welcome,
    new_key_package,
    open_pointee,
    open_welcome,
    process_envelope,
    send_message_intent,
    welcome_messages,
)
from xmtp_core.mls.group import Group
from xmtp_core.node.models import GroupMessage, NewWelcome, NewWelcomePointer, WelcomeKind, WelcomeMessage
from xmtp_core.xmtp_mls.key_package import KeyPackageBundle, parse_key_package
from xmtp_core.xmtp_mls.welcome_wrapper import UnwrappedWelcome, WelcomePointer


@dataclass
class Resolver:
    """Every inbox at sequence id 1 with the installations registered here."""

    installations: dict[str, set[bytes]] = field(default_factory=dict)

    async def installations_at(self, inbox_id: str, sequence_id: int) -> frozenset[bytes]:
        return frozenset(self.installations.get(inbox_id, set()))

    async def latest_sequence_id(self, inbox_id: str) -> int:
        return 1


@dataclass
class Client:
    keys: InstallationKeys
    bundle: KeyPackageBundle
    group: Group | None = None


class Node:
    """An in-memory node: ascending ids over group messages and welcomes."""

    def __init__(self) -> None:
        self.next_id = 1
        self.messages: list[GroupMessage] = []
        self.welcomes: list[WelcomeMessage] = []

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def publish(self, group_id: bytes, data: bytes, *, is_commit: bool) -> GroupMessage:
        msg = GroupMessage(self._id(), 0, group_id, data, b"", True, is_commit)
        self.messages.append(msg)
        return msg

    def deliver(self, welcomes: list[NewWelcome | NewWelcomePointer]) -> None:
        for w in welcomes:
            if isinstance(w, NewWelcome):
                kind, data, metadata = WelcomeKind.V1, w.data, w.welcome_metadata
                self.welcomes.append(
                    WelcomeMessage(
                        self._id(), 0, w.installation_key, data, w.hpke_public_key, w.wrapper_algorithm, metadata, kind
                    )
                )
            else:
                self.welcomes.append(
                    WelcomeMessage(
                        self._id(), 0, w.installation_key, w.welcome_pointer, w.hpke_public_key, w.wrapper_algorithm,
                        kind=WelcomeKind.POINTER,
                    )
                )  # fmt: skip

    def welcomes_for(self, key: bytes) -> list[WelcomeMessage]:
        return [w for w in self.welcomes if w.installation_key == key]


def client(resolver: Resolver) -> Client:
    keys = InstallationKeys.generate(os.urandom(32).hex())
    resolver.installations[keys.inbox_id] = {keys.installation_key}
    return Client(keys, new_key_package(keys))


def commit(node: Node, owner: Client, payload: IntentPayload, inputs: CommitInputs | None = None) -> GroupMessage:
    assert owner.group is not None
    built = build_commit(owner.group, payload, owner.keys, inputs)
    envelope = node.publish(owner.group.group_id, built.data, is_commit=True)
    assert built.post_state is not None
    owner.group = Group.from_bytes(built.post_state)
    node.deliver(welcome_messages(built, envelope.id))
    return envelope


def add(node: Node, owner: Client, joiners: list[Client]) -> GroupMessage:
    inputs = CommitInputs(
        {j.keys.inbox_id: 1 for j in joiners}, [parse_key_package(j.bundle.tls_bytes) for j in joiners]
    )
    return commit(node, owner, add_members_intent([j.keys.inbox_id for j in joiners]), inputs)


async def join(node: Node, client: Client, resolver: Resolver) -> GroupUpdated | None:
    (msg,) = node.welcomes_for(client.keys.installation_key)
    opened = open_welcome(msg, [client.bundle])
    if isinstance(opened, WelcomePointer):
        (pointee,) = node.welcomes_for(opened.destination)
        opened = open_pointee(msg, opened, pointee)
    assert isinstance(opened, UnwrappedWelcome)
    joined = await join_welcome(msg, opened, [client.bundle], client.keys, resolver)
    client.group = joined.group
    return None


def send(node: Node, sender: Client, text: str) -> GroupMessage:
    assert sender.group is not None
    payload = send_message_intent(TextCodec().encode(text).to_bytes(), new_idempotency_key())
    built, out = build_application(sender.group, payload, sender.keys)
    assert out.data == built.data and out.sender_hmac
    return node.publish(sender.group.group_id, built.data, is_commit=False)


async def receive(client: Client, envelope: GroupMessage, resolver: Resolver) -> list[object]:
    assert client.group is not None
    outcome = await process_envelope(client.group, envelope, client.keys, resolver, default_registry())
    return list(outcome.events)
