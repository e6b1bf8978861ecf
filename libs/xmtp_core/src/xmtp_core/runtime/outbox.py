"""The runtime's side of the outbox: each event an envelope produces gets a stable id and a durable form,
is written in that envelope's transaction (`store.outbox`), and is read back by whoever delivers events (the
runtime's `stream()`, or the crypto service's JetStream publisher).

The event id names what produced the event, so a redelivered envelope writes nothing new and the bus can use it
as its `Nats-Msg-Id`: ``<topic>:<envelope id>:<n>`` for the n-th event of an envelope.

The durable form is JSON with bytes in hex; decrypted content stays in the store's encrypted `payload` column.
A `MessageReceived` keeps its EncodedContent bytes and is decoded again on the way out (the registry is the
one decoder); a GroupUpdated keeps its encoded form likewise."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from xmtp_core.content.codecs.group import GROUP_UPDATED, GroupUpdated
from xmtp_core.content.registry import ContentRegistry
from xmtp_core.engine import (
    ConversationInfo,
    ConversationJoined,
    EnvelopeRejected,
    Event,
    GroupUpdatedEvent,
    MessageReceived,
    RejectReason,
)
from xmtp_core.engine.events import ConversationKind
from xmtp_core.store import OutboxEvent


class EventKind:
    """The kind names of the durable form (also the bus's event kinds)."""

    MESSAGE = "message"
    JOINED = "joined"
    UPDATED = "updated"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Delivered:
    """An event read back from the outbox, with the id the bus deduplicates on."""

    event_id: str
    event: Event


def event_id(topic: str, envelope_id: int, n: int) -> str:
    return f"{topic}:{envelope_id}:{n}"


def _info(info: ConversationInfo) -> dict[str, Any]:
    return {
        "group_id": info.group_id.hex(),
        "kind": info.kind.value,
        "creator": info.creator_inbox_id,
        "members": info.members,
        "dm_peer": info.dm_peer_inbox_id,
        "name": info.name,
        "description": info.description,
        "image_url": info.image_url,
        "admins": list(info.admins),
        "super_admins": list(info.super_admins),
    }


def _info_from(d: dict[str, Any]) -> ConversationInfo:
    return ConversationInfo(
        bytes.fromhex(d["group_id"]),
        ConversationKind(d["kind"]),
        d["creator"],
        {str(k): int(v) for k, v in d["members"].items()},
        d["dm_peer"],
        d["name"],
        d["description"],
        d["image_url"],
        tuple(d["admins"]),
        tuple(d["super_admins"]),
    )


def to_outbox(event: Event, event_id_: str, conversation: bytes, registry: ContentRegistry) -> OutboxEvent:
    """The durable form of an application-facing event."""
    kind, body = _encode(event, registry)
    return OutboxEvent(event_id_, conversation, kind, json.dumps(body, separators=(",", ":")).encode())


def _encode(event: Event, registry: ContentRegistry) -> tuple[str, dict[str, Any]]:
    if isinstance(event, MessageReceived):
        return EventKind.MESSAGE, {
            "group_id": event.group_id.hex(),
            "message_id": event.message_id.hex(),
            "sender": event.sender_inbox_id,
            "installation": event.sender_installation_key.hex(),
            "sent_ns": event.sent_ns,
            "epoch": event.epoch,
            "envelope_id": event.envelope_id,
            "encoded": event.encoded.hex(),
            "idempotency_key": event.idempotency_key,
        }
    if isinstance(event, ConversationJoined):
        return EventKind.JOINED, {
            "conversation": _info(event.conversation),
            "added_by": event.added_by_inbox_id,
            "welcome_id": event.welcome_id,
            "message_cursor": event.message_cursor,
        }
    if isinstance(event, GroupUpdatedEvent):
        return EventKind.UPDATED, {
            "group_id": event.group_id.hex(),
            "update": registry.encode(event.update, content_type=GROUP_UPDATED).to_bytes().hex(),
            "epoch": event.epoch,
            "envelope_id": event.envelope_id,
            "sent_ns": event.sent_ns,
            "conversation": _info(event.conversation),
            "removed_us": event.removed_us,
        }
    if isinstance(event, EnvelopeRejected):
        return EventKind.REJECTED, {
            "topic": event.topic.hex(),
            "envelope_id": event.envelope_id,
            "reason": event.reason.value,
            "detail": event.detail,
        }
    raise TypeError(f"not an application event: {type(event).__name__}")


def from_outbox(row: OutboxEvent, registry: ContentRegistry) -> Delivered:
    """The event back from its durable form (content decoded again by ``registry``)."""
    d = json.loads(row.payload)
    event: Event
    if row.kind == EventKind.MESSAGE:
        encoded = bytes.fromhex(d["encoded"])
        event = MessageReceived(
            bytes.fromhex(d["group_id"]),
            bytes.fromhex(d["message_id"]),
            d["sender"],
            bytes.fromhex(d["installation"]),
            d["sent_ns"],
            d["epoch"],
            d["envelope_id"],
            registry.decode_bytes(encoded),
            encoded,
            d["idempotency_key"],
        )
    elif row.kind == EventKind.JOINED:
        event = ConversationJoined(_info_from(d["conversation"]), d["added_by"], d["welcome_id"], d["message_cursor"])
    elif row.kind == EventKind.UPDATED:
        update = registry.decode_bytes(bytes.fromhex(d["update"])).value
        assert isinstance(update, GroupUpdated)
        event = GroupUpdatedEvent(
            bytes.fromhex(d["group_id"]),
            update,
            d["epoch"],
            d["envelope_id"],
            d["sent_ns"],
            _info_from(d["conversation"]),
            d["removed_us"],
        )
    elif row.kind == EventKind.REJECTED:
        event = EnvelopeRejected(bytes.fromhex(d["topic"]), d["envelope_id"], RejectReason(d["reason"]), d["detail"])
    else:
        raise ValueError(f"unknown outbox event kind {row.kind!r}")
    return Delivered(row.event_id, event)
