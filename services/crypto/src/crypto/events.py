"""The runtime's events (read back from the outbox) in their bus form, and the bus's conversation view."""

from __future__ import annotations

from xmtp_core.bus import schemas, subjects
from xmtp_core.content.codecs.group import GroupUpdated
from xmtp_core.engine import (
    ConversationInfo,
    ConversationJoined,
    ConversationKind,
    EnvelopeRejected,
    Event,
    GroupUpdatedEvent,
    MessageReceived,
)
from xmtp_core.untrusted import FIELD_LIMIT, clean

BusEvent = schemas.MessageEvent | schemas.JoinedEvent | schemas.UpdatedEvent | schemas.RejectedEvent


def conversation_info(info: ConversationInfo) -> schemas.ConversationInfo:
    return schemas.ConversationInfo(
        conversation_id=info.group_id.hex(),
        kind="dm" if info.kind is ConversationKind.DM else "group",
        creator_inbox_id=info.creator_inbox_id,
        members=sorted(info.members),
        dm_peer_inbox_id=info.dm_peer_inbox_id,
        name=info.name,
        description=info.description,
        image_url=info.image_url,
        admins=list(info.admins),
        super_admins=list(info.super_admins),
    )


def _change(update: GroupUpdated) -> schemas.GroupChange:
    return schemas.GroupChange(
        initiated_by_inbox_id=update.initiated_by_inbox_id,
        added_inboxes=list(update.added_inboxes),
        removed_inboxes=list(update.removed_inboxes),
        left_inboxes=list(update.left_inboxes),
        metadata_field_changes=[
            schemas.MetadataChange(field_name=c.field_name, old_value=c.old_value, new_value=c.new_value)
            for c in update.metadata_field_changes
        ],
        added_admin_inboxes=list(update.added_admin_inboxes),
        removed_admin_inboxes=list(update.removed_admin_inboxes),
        added_super_admin_inboxes=list(update.added_super_admin_inboxes),
        removed_super_admin_inboxes=list(update.removed_super_admin_inboxes),
    )


def msg_id(agent: str, outbox_event_id: str) -> str:
    """The bus id of an outbox event: two agents in one group see the same envelope, so the agent is part of it."""
    return f"{subjects.agent_token(agent)}:{outbox_event_id}"


def bus_event(agent: str, outbox_event_id: str, event: Event, own_inbox_id: str) -> tuple[str, BusEvent]:
    """(conversation key, bus event) of one outbox event (`xmtp_core.runtime.outbox`: its id starts with the
    node topic of the envelope that produced it). Joins, updates and messages are keyed by their group, so a
    conversation's events share one partition; a rejection by the topic it was refused on."""
    event_id = msg_id(agent, outbox_event_id)
    if isinstance(event, MessageReceived):
        return "g" + event.group_id.hex(), schemas.MessageEvent(
            agent=agent,
            event_id=event_id,
            message_id=event.message_id.hex(),
            conversation_id=event.group_id.hex(),
            sender_inbox_id=event.sender_inbox_id,
            sender_installation=event.sender_installation_key.hex() or "00",
            sent_ns=event.sent_ns,
            content_type=clean(str(event.content.content_type), FIELD_LIMIT),
            encoded_content=event.encoded,
            is_own=event.sender_inbox_id == own_inbox_id,
        )
    if isinstance(event, ConversationJoined):
        info = event.conversation
        return "g" + info.group_id.hex(), schemas.JoinedEvent(
            agent=agent,
            event_id=event_id,
            conversation=conversation_info(info),
            added_by_inbox_id=event.added_by_inbox_id,
        )
    if isinstance(event, GroupUpdatedEvent):
        return "g" + event.group_id.hex(), schemas.UpdatedEvent(
            agent=agent,
            event_id=event_id,
            conversation=conversation_info(event.conversation),
            update=_change(event.update),
            sent_ns=event.sent_ns,
            removed_us=event.removed_us,
        )
    if isinstance(event, EnvelopeRejected):
        conv = subjects.conv_of_node_topic(outbox_event_id.rsplit(":", 2)[0])
        return conv, schemas.RejectedEvent(
            agent=agent,
            event_id=event_id,
            conv=conv,
            envelope_id=event.envelope_id,
            reason=event.reason.value,
            detail=clean(event.detail),
        )
    raise TypeError(f"not an application event: {type(event).__name__}")
