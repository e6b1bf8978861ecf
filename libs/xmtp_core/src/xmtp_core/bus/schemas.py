"""The payload of every bus hop, one versioned pydantic model each (JSON on the wire, bytes as base64).

Anything on the bus may come from an attacker (an envelope's bytes, a command from another team, a message's
text), so every string, bytes and list field has a size cap checked before any other work, unknown fields are
refused, and `parse(model, raw)` turns any input into the model or a `SchemaError` with a cleaned reason; it
never raises anything else. The conversion between the node client's dataclasses and `InboundEnvelope` /
`PublishRequest` lives here and nowhere else.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, TypeAlias, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from xmtp_core.bus import subjects
from xmtp_core.envelopes import (
    GroupMessage,
    NewGroupMessage,
    NewWelcome,
    NewWelcomePointer,
    WelcomeKind,
    WelcomeMessage,
)
from xmtp_core.untrusted import clean

# Caps. NATS refuses payloads above the server's max_payload (ours: 8 MiB, see devservices); base64 costs 4/3.
MAX_ENVELOPE_BYTES: Final = 4 * 1024 * 1024
MAX_CONTENT_BYTES: Final = 4 * 1024 * 1024
MAX_TEXT: Final = 32 * 1024  # characters of a text / markdown / reply command
MAX_NAME: Final = 1024  # group name, description, image url, file name, URL
MAX_SHORT: Final = 256  # inbox ids, content-type ids, emoji, addresses
MAX_MEMBERS: Final = 1024
MAX_BATCH: Final = 1024  # envelopes in one publish request
MAX_DEAD_PAYLOAD: Final = 64 * 1024  # bytes of the original payload kept with a dead letter
MAX_RAW_JSON: Final = 8 * 1024 * 1024  # a message bigger than this is refused before JSON parsing


class SchemaError(ValueError):
    """A payload that is not a valid instance of its model; `reason` is cleaned, bounded text."""

    def __init__(self, reason: str) -> None:
        self.reason = clean(reason)
        super().__init__(self.reason)


@dataclass(frozen=True)
class B64:
    """Field marker: bytes carried as a standard base64 string of at most `limit` decoded bytes."""

    limit: int

    @property
    def max_chars(self) -> int:
        return 4 * ((self.limit + 2) // 3)

    def check(self, value: object) -> bytes:
        if isinstance(value, bytes):
            raw = value
        elif isinstance(value, str):
            if len(value) > self.max_chars:  # before decoding: the work stays bounded by the cap
                raise ValueError(f"base64 field over {self.limit} bytes")
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("not standard base64") from None
        else:
            raise ValueError("bytes are base64 strings")
        if len(raw) > self.limit:
            raise ValueError(f"bytes field over {self.limit} bytes")
        return raw

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.check,
            serialization=core_schema.plain_serializer_function_ser_schema(_b64_out, when_used="json"),
        )

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "contentEncoding": "base64", "maxLength": self.max_chars}


def _b64_out(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


EnvelopeBytes = Annotated[bytes, B64(MAX_ENVELOPE_BYTES)]
ContentBytes = Annotated[bytes, B64(MAX_CONTENT_BYTES)]
ShortBytes = Annotated[bytes, B64(MAX_SHORT)]
KeyBytes = Annotated[bytes, B64(2048)]  # HPKE public keys (X-Wing's is 1216 bytes)
MetaBytes = Annotated[bytes, B64(64 * 1024)]
SecretBytes = Annotated[bytes, B64(64)]
DeadBytes = Annotated[bytes, B64(MAX_DEAD_PAYLOAD)]

Hex = Annotated[str, Field(pattern=r"^(?:[0-9a-f]{2}){1,128}$", max_length=256)]
Agent = Annotated[str, Field(pattern=subjects.AGENT_RE.pattern.join("^$"), max_length=32)]
Conv = Annotated[str, Field(pattern=subjects.CONV_RE.pattern.join("^$"), max_length=257)]
IdempotencyKey = Annotated[str, Field(pattern=subjects.IDEMPOTENCY_RE.pattern.join("^$"), max_length=128)]
Token = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:=/-]{1,300}$", max_length=300)]  # event / intent ids
Short = Annotated[str, Field(max_length=MAX_SHORT)]
Name = Annotated[str, Field(max_length=MAX_NAME)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
NonNeg = Annotated[int, Field(ge=0, le=2**63 - 1)]
InboxList = Annotated[list[Short], Field(max_length=MAX_MEMBERS)]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=MAX_TEXT)


# --- SB_IN: raw node envelopes ---


class _GroupFields(_Model):
    data: EnvelopeBytes  # a TLS-serialized MLSMessage
    sender_hmac: ShortBytes = b""
    should_push: bool = True


class _WelcomeFields(_Model):
    installation_key: Hex
    data: EnvelopeBytes  # the HPKE-wrapped Welcome, or the welcome pointer when `pointer`
    hpke_public_key: KeyBytes
    wrapper_algorithm: Annotated[int, Field(ge=0, le=2**31 - 1)]
    welcome_metadata: MetaBytes = b""
    pointer: bool = False


class _Stored(_Model):
    v: Literal[1] = 1
    agent: Agent
    envelope_id: NonNeg
    created_ns: NonNeg


class GroupEnvelope(_Stored, _GroupFields):
    """A group message as the node stored it (`xmtp_core.node.GroupMessage`)."""

    kind: Literal["group"] = "group"
    group_id: Hex
    is_commit: bool = False
    # The envelope before this one on its topic as ingest read the node (its start cursor for the first one it
    # reads). A stream may store a topic's envelopes out of node order (publishes lost in a NATS leader
    # election while later ones land on the new leader); crypto pulls what it lacks from the node first.
    prev_id: NonNeg | None = None

    @property
    def conv(self) -> str:
        return "g" + self.group_id

    def to_node(self) -> GroupMessage:
        group_id = bytes.fromhex(self.group_id)
        return GroupMessage(
            self.envelope_id, self.created_ns, group_id, self.data, self.sender_hmac, self.should_push, self.is_commit
        )


class WelcomeEnvelope(_Stored, _WelcomeFields):
    """A welcome as the node stored it (`xmtp_core.node.WelcomeMessage`)."""

    kind: Literal["welcome"] = "welcome"

    @property
    def conv(self) -> str:
        return "w" + self.installation_key

    def to_node(self) -> WelcomeMessage:
        key, kind = bytes.fromhex(self.installation_key), WelcomeKind.POINTER if self.pointer else WelcomeKind.V1
        return WelcomeMessage(
            self.envelope_id,
            self.created_ns,
            key,
            self.data,
            self.hpke_public_key,
            self.wrapper_algorithm,
            self.welcome_metadata,
            kind,
        )


InboundEnvelope: TypeAlias = Annotated[GroupEnvelope | WelcomeEnvelope, Field(discriminator="kind")]


def envelope_from_node(
    agent: str, message: GroupMessage | WelcomeMessage, prev_id: int | None = None
) -> GroupEnvelope | WelcomeEnvelope:
    """The bus form of a node envelope (``prev_id``: a group envelope's predecessor on its topic); raises
    `SchemaError` for one over the caps (ingest dead-letters it)."""
    try:
        if isinstance(message, GroupMessage):
            return GroupEnvelope(
                agent=agent,
                prev_id=prev_id,
                envelope_id=message.id,
                created_ns=message.created_ns,
                group_id=message.group_id.hex(),
                data=message.data,
                sender_hmac=message.sender_hmac,
                should_push=message.should_push,
                is_commit=message.is_commit,
            )
        return WelcomeEnvelope(
            agent=agent,
            envelope_id=message.id,
            created_ns=message.created_ns,
            installation_key=message.installation_key.hex(),
            data=message.data,
            hpke_public_key=message.hpke_public_key,
            wrapper_algorithm=message.wrapper_algorithm,
            welcome_metadata=message.welcome_metadata,
            pointer=message.kind is WelcomeKind.POINTER,
        )
    except ValidationError as exc:
        raise SchemaError(_first_error(exc)) from None


# --- SB_EV: events from crypto ---


class ConversationInfo(_Model):
    conversation_id: Hex
    kind: Literal["dm", "group"]
    creator_inbox_id: Short = ""
    members: InboxList = []
    dm_peer_inbox_id: Short | None = None
    name: Name = ""
    description: Name = ""
    image_url: Name = ""
    admins: InboxList = []
    super_admins: InboxList = []


class MetadataChange(_Model):
    field_name: Short
    old_value: Name | None = None
    new_value: Name | None = None


class GroupChange(_Model):
    """The GroupUpdated content of a commit (`xmtp_core.content.codecs.group.GroupUpdated`)."""

    initiated_by_inbox_id: Short
    added_inboxes: InboxList = []
    removed_inboxes: InboxList = []
    left_inboxes: InboxList = []
    metadata_field_changes: Annotated[list[MetadataChange], Field(max_length=64)] = []
    added_admin_inboxes: InboxList = []
    removed_admin_inboxes: InboxList = []
    added_super_admin_inboxes: InboxList = []
    removed_super_admin_inboxes: InboxList = []


class _EventBase(_Model):
    v: Literal[1] = 1
    agent: Agent
    event_id: Token  # `<topic>:<envelope id>:<n>` or `intent:<id>`: the Nats-Msg-Id


class MessageEvent(_EventBase):
    kind: Literal["message"] = "message"
    message_id: Hex
    conversation_id: Hex
    sender_inbox_id: Short
    sender_installation: Hex
    sent_ns: NonNeg
    content_type: Short  # `authority/type:major.minor`
    encoded_content: ContentBytes  # the EncodedContent protobuf bytes
    is_own: bool = False

    def __repr__(self) -> str:  # plaintext stays out of logs and tracebacks
        return f"MessageEvent(id={self.message_id}, type={self.content_type}, content=<hidden>)"

    __str__ = __repr__


class JoinedEvent(_EventBase):
    kind: Literal["joined"] = "joined"
    conversation: ConversationInfo
    added_by_inbox_id: Short = ""


class UpdatedEvent(_EventBase):
    kind: Literal["updated"] = "updated"
    conversation: ConversationInfo
    update: GroupChange
    sent_ns: NonNeg = 0
    removed_us: bool = False


class RejectedEvent(_EventBase):
    kind: Literal["rejected"] = "rejected"
    conv: Conv
    envelope_id: NonNeg
    reason: Annotated[str, Field(pattern=r"^[a-z_]{1,64}$")]  # `xmtp_core.engine.errors.RejectReason` values
    detail: Annotated[str, Field(max_length=200)] = ""  # cleaned by the producer


class SentEvent(_EventBase):
    """The final outcome of an outbound intent: who tells the router (and the command's sender) how it ended."""

    kind: Literal["sent"] = "sent"
    intent_id: Token
    conversation_id: Hex
    idempotency_key: IdempotencyKey | None = None
    message_id: Hex | None = None
    ok: bool
    error: Annotated[str, Field(max_length=200)] | None = None


Event: TypeAlias = Annotated[
    MessageEvent | JoinedEvent | UpdatedEvent | RejectedEvent | SentEvent, Field(discriminator="kind")
]

# --- SB_OUT: outbound commands (other teams, the router) ---


class _CommandBase(_Model):
    v: Literal[1] = 1
    agent: Agent
    idempotency_key: IdempotencyKey
    conversation_id: Hex | None = None
    to_inbox_id: Short | None = None
    to_address: Address | None = None

    @model_validator(mode="after")
    def _one_target(self) -> _CommandBase:
        targets = [t for t in (self.conversation_id, self.to_inbox_id, self.to_address) if t is not None]
        if len(targets) != 1:
            raise ValueError("give exactly one of conversation_id, to_inbox_id, to_address")
        return self


class TextCommand(_CommandBase):
    type: Literal["text"] = "text"
    text: Text


class MarkdownCommand(_CommandBase):
    type: Literal["markdown"] = "markdown"
    markdown: Text


class ReactionCommand(_CommandBase):
    type: Literal["reaction"] = "reaction"
    reference: Hex  # the message id reacted to
    reference_inbox_id: Short | None = None
    content: Annotated[str, Field(min_length=1, max_length=MAX_SHORT)]
    action: Literal["added", "removed"] = "added"
    schema_: Literal["unicode", "shortcode", "custom"] = Field("unicode", alias="schema")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ReplyCommand(_CommandBase):
    type: Literal["reply"] = "reply"
    reference: Hex
    reference_inbox_id: Short | None = None
    text: Text


class AttachmentCommand(_CommandBase):
    """A remote attachment (`xmtp_core.content.codecs.attachment.RemoteAttachment`)."""

    type: Literal["attachment"] = "attachment"
    url: Annotated[str, Field(pattern=r"^https://\S+$", max_length=MAX_NAME)]
    content_digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    secret: SecretBytes
    salt: SecretBytes
    nonce: SecretBytes
    scheme: Literal["https://"] = "https://"
    content_length: NonNeg | None = None
    filename: Name | None = None


class ContentCommand(_CommandBase):
    """Any content already encoded by the sender (an `EncodedContent` protobuf): read receipts, markdown replies,
    actions, intents, wallet send calls, inline attachments. Crypto decodes it with its own registry before
    sending, so a type it has no codec for, or content its codec refuses, is an invalid command."""

    type: Literal["content"] = "content"
    encoded_content: ContentBytes

    def __repr__(self) -> str:  # plaintext stays out of logs and tracebacks
        return f"ContentCommand(agent={self.agent}, key={self.idempotency_key}, content=<hidden>)"

    __str__ = __repr__


OutboundCommand: TypeAlias = Annotated[
    TextCommand | MarkdownCommand | ReactionCommand | ReplyCommand | AttachmentCommand | ContentCommand,
    Field(discriminator="type"),
]


class CommandResult(_Model):
    v: Literal[1] = 1
    ok: bool
    idempotency_key: IdempotencyKey | None = None
    message_id: Hex | None = None
    conversation_id: Hex | None = None
    error: Annotated[str, Field(pattern=r"^[a-z_]{1,64}$")] | None = None  # e.g. invalid_command, not_found
    detail: Annotated[str, Field(max_length=200)] = ""  # cleaned by the producer

    @model_validator(mode="after")
    def _shape(self) -> CommandResult:
        if self.ok != (self.error is None):
            raise ValueError("ok results have no error; failed results have one")
        return self


# --- sb.ops.<agent>: conversation operations (core request/reply) ---


class _OpBase(_Model):
    v: Literal[1] = 1
    agent: Agent


class CreateDm(_OpBase):
    op: Literal["create_dm"] = "create_dm"
    to_inbox_id: Short | None = None
    to_address: Address | None = None

    @model_validator(mode="after")
    def _one(self) -> CreateDm:
        if (self.to_inbox_id is None) == (self.to_address is None):
            raise ValueError("give exactly one of to_inbox_id, to_address")
        return self


class CreateGroup(_OpBase):
    op: Literal["create_group"] = "create_group"
    members: InboxList = []
    member_addresses: Annotated[list[Address], Field(max_length=MAX_MEMBERS)] = []
    name: Name = ""
    description: Name = ""
    image_url: Name = ""
    permissions: Literal["all_members", "admins_only"] = "all_members"


class _OnConversation(_OpBase):
    conversation_id: Hex


class AddMembers(_OnConversation):
    op: Literal["add_members"] = "add_members"
    inbox_ids: Annotated[list[Short], Field(min_length=1, max_length=MAX_MEMBERS)]


class RemoveMembers(_OnConversation):
    op: Literal["remove_members"] = "remove_members"
    inbox_ids: Annotated[list[Short], Field(min_length=1, max_length=MAX_MEMBERS)]


class UpdateMetadata(_OnConversation):
    op: Literal["update_metadata"] = "update_metadata"
    name: Name | None = None
    description: Name | None = None
    image_url: Name | None = None


class SetAdmin(_OnConversation):
    op: Literal["set_admin"] = "set_admin"
    inbox_id: Short
    admin: bool  # add (True) or remove (False)
    super_admin: bool = False


class UpdatePermission(_OnConversation):
    op: Literal["update_permission"] = "update_permission"
    action: Literal["add_member", "remove_member", "add_admin", "remove_admin", "update_metadata", "update_permissions"]
    policy: Literal["allow", "deny", "admin_only", "super_admin_only"]
    metadata_field: Short | None = None


class SetConsent(_OpBase):
    op: Literal["set_consent"] = "set_consent"
    conversation_id: Hex | None = None
    inbox_id: Short | None = None
    state: Literal["allowed", "denied", "unknown"]


class LookupInbox(_OpBase):
    op: Literal["lookup_inbox"] = "lookup_inbox"
    address: Address


class LookupAddresses(_OpBase):
    op: Literal["lookup_addresses"] = "lookup_addresses"
    inbox_id: Short


class GetConversation(_OnConversation):
    op: Literal["conversation"] = "conversation"


class ListConversations(_OpBase):
    op: Literal["list_conversations"] = "list_conversations"
    limit: Annotated[int, Field(ge=1, le=1000)] = 100


class Members(_OnConversation):
    op: Literal["members"] = "members"


class GetMessage(_OnConversation):
    """One stored message of the conversation, by id (a reply's `in_reply_to`); `messages` holds it or is empty."""

    op: Literal["message"] = "message"
    message_id: Hex


class History(_OnConversation):
    op: Literal["history"] = "history"
    limit: Annotated[int, Field(ge=1, le=500)] = 50
    before_ns: NonNeg | None = None


OpRequest: TypeAlias = Annotated[
    CreateDm
    | CreateGroup
    | AddMembers
    | RemoveMembers
    | UpdateMetadata
    | SetAdmin
    | UpdatePermission
    | SetConsent
    | LookupInbox
    | LookupAddresses
    | GetConversation
    | ListConversations
    | Members
    | History
    | GetMessage,
    Field(discriminator="op"),
]


class Member(_Model):
    inbox_id: Short
    addresses: Annotated[list[Short], Field(max_length=64)] = []
    installations: Annotated[list[Hex], Field(max_length=256)] = []
    admin: bool = False
    super_admin: bool = False


class OpResponse(_Model):
    """The answer to any `OpRequest`: `ok` with the fields the op fills in, or an error reason."""

    v: Literal[1] = 1
    op: Annotated[str, Field(pattern=r"^[a-z_]{1,32}$")]
    ok: bool
    error: Annotated[str, Field(pattern=r"^[a-z_]{1,64}$")] | None = None
    detail: Annotated[str, Field(max_length=200)] = ""
    conversation: ConversationInfo | None = None
    conversations: Annotated[list[ConversationInfo], Field(max_length=1000)] | None = None
    inbox_id: Short | None = None
    addresses: Annotated[list[Short], Field(max_length=64)] | None = None
    members: Annotated[list[Member], Field(max_length=MAX_MEMBERS)] | None = None
    messages: Annotated[list[MessageEvent], Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> OpResponse:
        if self.ok != (self.error is None):
            raise ValueError("ok responses have no error; failed responses have one")
        return self


# --- SB_PUB / SB_RES: envelopes to publish and their results ---


class GroupMessageOut(_GroupFields):
    pass


class WelcomeOut(_WelcomeFields):
    pass


class PublishRequest(_Model):
    """One build of an intent: the envelopes `NodeClient.send_group_messages` / `send_welcome_messages` take."""

    v: Literal[1] = 1
    agent: Agent
    conv: Conv  # the conversation the intent belongs to: its partition keeps the conversation's sends in order
    intent_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
    build: NonNeg
    kind: Literal["group_message", "welcome"]
    group_messages: Annotated[list[GroupMessageOut], Field(max_length=MAX_BATCH)] = []
    welcomes: Annotated[list[WelcomeOut], Field(max_length=MAX_BATCH)] = []

    @model_validator(mode="after")
    def _shape(self) -> PublishRequest:
        messages, welcomes = bool(self.group_messages), bool(self.welcomes)
        if (messages, welcomes) != ((True, False) if self.kind == "group_message" else (False, True)):
            raise ValueError(f"a {self.kind} request carries only, and at least one, {self.kind} envelope")
        return self

    @property
    def msg_id(self) -> str:
        return subjects.publish_msg_id(self.intent_id, self.build)

    def node_group_messages(self) -> list[NewGroupMessage]:
        return [NewGroupMessage(m.data, m.sender_hmac, m.should_push) for m in self.group_messages]

    def node_welcomes(self) -> list[NewWelcome | NewWelcomePointer]:
        out: list[NewWelcome | NewWelcomePointer] = []
        for w in self.welcomes:
            key = bytes.fromhex(w.installation_key)
            if w.pointer:
                out.append(NewWelcomePointer(key, w.data, w.hpke_public_key, w.wrapper_algorithm))
            else:
                out.append(NewWelcome(key, w.data, w.hpke_public_key, w.wrapper_algorithm, w.welcome_metadata))
        return out


class PublishResult(_Model):
    v: Literal[1] = 1
    agent: Agent
    conv: Conv
    intent_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
    build: NonNeg
    status: Literal["accepted", "transient", "permanent"]
    error: Annotated[str, Field(max_length=200)] | None = None  # cleaned
    attempts: Annotated[int, Field(ge=1, le=10_000)] = 1

    @property
    def msg_id(self) -> str:
        return subjects.result_msg_id(self.intent_id, self.build)


# --- SB_DLQ ---


class DeadLetter(_Model):
    v: Literal[1] = 1
    hop: Annotated[str, Field(pattern=subjects.HOP_RE.pattern.join("^$"))]
    reason: Annotated[str, Field(max_length=200)]
    stream: Short | None = None
    stream_seq: NonNeg | None = None
    msg_id: Annotated[str, Field(max_length=400)] | None = None
    subject: Annotated[str, Field(max_length=400)] | None = None
    deliveries: NonNeg = 0
    payload: DeadBytes = b""
    payload_size: NonNeg = 0  # the original's size (payload keeps at most MAX_DEAD_PAYLOAD bytes of it)

    @classmethod
    def build(
        cls,
        hop: str,
        reason: object,
        payload: bytes,
        *,
        stream: str | None = None,
        stream_seq: int | None = None,
        msg_id: str | None = None,
        subject: str | None = None,
        deliveries: int = 0,
    ) -> DeadLetter:
        """A dead letter with every attacker-influenced text cleaned and the payload cut to the cap."""
        return cls(
            hop=hop,
            reason=clean(reason),
            stream=clean(stream, MAX_SHORT) if stream is not None else None,
            stream_seq=stream_seq,
            msg_id=clean(msg_id, 400) if msg_id is not None else None,
            subject=clean(subject, 400) if subject is not None else None,
            deliveries=deliveries,
            payload=payload[:MAX_DEAD_PAYLOAD],
            payload_size=len(payload),
        )


# --- parsing ---

M = TypeVar("M")
_ADAPTERS: dict[object, TypeAdapter[Any]] = {}


def adapter(model: Any) -> TypeAdapter[Any]:
    """A cached TypeAdapter for a model class or one of the discriminated unions above."""
    found = _ADAPTERS.get(model)
    if found is None:
        found = _ADAPTERS[model] = TypeAdapter(model)
    return found


def parse(model: Any, raw: bytes | str) -> Any:
    """`raw` JSON as `model` (a class or union alias), or `SchemaError`; nothing else is raised for any input."""
    if len(raw) > MAX_RAW_JSON:
        raise SchemaError(f"payload over {MAX_RAW_JSON} bytes")
    try:
        return adapter(model).validate_json(raw)
    except ValidationError as exc:
        raise SchemaError(_first_error(exc)) from None
    except (ValueError, TypeError, RecursionError) as exc:  # pydantic-core's own limits (depth, bad UTF-8)
        raise SchemaError(f"unreadable payload: {type(exc).__name__}") from None


def dump(value: BaseModel) -> bytes:
    """The JSON bytes of a model, as published."""
    return value.model_dump_json(by_alias=True).encode()


def _first_error(exc: ValidationError) -> str:
    # Only the location and pydantic's message: the input value (attacker text) is not quoted.
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if not errors:
        return "invalid"
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))[:100]
    return f"{loc}: {first.get('msg', 'invalid')}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "")


def models() -> list[type[BaseModel]]:
    """Every public model of this module (the AsyncAPI document and the tests check each is reachable)."""
    return [
        v
        for k, v in globals().items()
        if isinstance(v, type) and issubclass(v, BaseModel) and not k.startswith("_") and v.__module__ == __name__
    ]
