"""What the engine hands back: events for the application and envelopes for the runtime to publish."""

from __future__ import annotations

from dataclasses import dataclass, field

from xmtp_core.content.codecs.group import GroupUpdated
from xmtp_core.content.registry import DecodedContent
from xmtp_core.engine.errors import RejectReason
from xmtp_core.envelopes import ConversationKind as ConversationKind  # re-exported: callers import it from here
from xmtp_core.untrusted import clean


@dataclass(frozen=True)
class ConversationInfo:
    """A conversation as its group-context extensions describe it."""

    group_id: bytes
    kind: ConversationKind
    creator_inbox_id: str
    members: dict[str, int]  # inbox id -> sequence id
    dm_peer_inbox_id: str | None = None
    name: str = ""
    description: str = ""
    image_url: str = ""
    admins: tuple[str, ...] = ()
    super_admins: tuple[str, ...] = ()


@dataclass(frozen=True)
class MessageReceived:
    """A decrypted application message; the content is kept out of its repr."""

    group_id: bytes
    message_id: bytes
    sender_inbox_id: str
    sender_installation_key: bytes
    sent_ns: int
    epoch: int
    envelope_id: int
    content: DecodedContent
    encoded: bytes  # the EncodedContent bytes (what the store keeps)
    idempotency_key: str

    def __repr__(self) -> str:
        return f"MessageReceived(id={self.message_id.hex()}, type={self.content.content_type}, content=<hidden>)"


@dataclass(frozen=True)
class ConversationJoined:
    """We joined a conversation from a Welcome sent by ``added_by_inbox_id``."""

    conversation: ConversationInfo
    added_by_inbox_id: str
    welcome_id: int
    message_cursor: int  # the group's envelopes at or below this id predate our membership


@dataclass(frozen=True)
class GroupUpdatedEvent:
    """A commit merged: what it changed (GroupUpdated) and the conversation after it."""

    group_id: bytes
    update: GroupUpdated
    epoch: int
    envelope_id: int
    sent_ns: int
    conversation: ConversationInfo
    removed_us: bool = False


@dataclass(frozen=True)
class EnvelopeRejected:
    """An envelope the engine refused; ``detail`` is cleaned and bounded on construction (it may quote the
    sender's bytes and goes to a column and to logs)."""

    topic: bytes  # group id or installation key
    envelope_id: int
    reason: RejectReason
    detail: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", clean(self.detail))


@dataclass(frozen=True)
class OwnEcho:
    """One of our own envelopes came back from the node (application message or commit)."""

    group_id: bytes
    envelope_id: int
    data_hash: bytes
    is_commit: bool
    epoch: int


Event = MessageReceived | ConversationJoined | GroupUpdatedEvent | EnvelopeRejected | OwnEcho


@dataclass(frozen=True)
class GroupMessageOut:
    """An MLSMessage to publish on a group topic, with its sender HMAC."""

    group_id: bytes
    data: bytes
    sender_hmac: bytes
    should_push: bool = True


@dataclass
class Outcome:
    """Result of processing one envelope: events, and whether the group state changed and must be saved."""

    events: list[Event] = field(default_factory=list)
    state_changed: bool = False
