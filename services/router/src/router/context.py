"""What a handler sees and does: the message, its conversation, and send helpers (the Agent SDK's context).

Every send of a handler carries an idempotency key made from what the handler run is about (its `scope`) and
the send's position in the handler (`step`), so when a handler runs again for it (at-least-once delivery after
a crash, a redelivery) its sends are recognised and nothing is sent twice. A message's scope is its message id
(which libxmtp derives from the sender's PlaintextEnvelope idempotency key and the content), not the envelope
that carried it: the same message in two envelopes (a sender's retried publish, a replay) is one scope, so one
reply. Other events (joined) are scoped by their event id. `ctx.once(name, fn)` runs a side effect once per
scope and name (`router.effects`)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xmtp_core.bus.schemas import (
    AttachmentCommand,
    ContentCommand,
    MarkdownCommand,
    Member,
    MessageEvent,
    ReactionCommand,
    ReplyCommand,
    TextCommand,
)
from xmtp_core.bus.schemas import ConversationInfo as BusConversation
from xmtp_core.content import default_registry
from xmtp_core.content.codecs.attachment import Attachment, MultiRemoteAttachment
from xmtp_core.content.codecs.coinbase import Actions, Intent
from xmtp_core.content.codecs.read_receipt import ReadReceipt
from xmtp_core.content.codecs.reply import Reply
from xmtp_core.content.codecs.text import Markdown
from xmtp_core.content.codecs.transactions import TransactionReference, WalletSendCalls
from xmtp_core.content.errors import ContentError
from xmtp_core.content.registry import ContentRegistry
from xmtp_core.content.remote_attachment import EncryptedAttachment, encrypt_attachment
from xmtp_core.untrusted import clean_error

from router.effects import LEASE_S
from router.transport import AgentError, Transport

if TYPE_CHECKING:
    from router.agent import Agent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """A decrypted message: ``content`` is the codec's value (a str for text), ``content_type`` its type id."""

    id: str
    conversation_id: str
    sender_inbox_id: str
    sent_ns: int
    content_type: str
    content: Any
    fallback: str | None = None
    is_own: bool = False

    def __repr__(self) -> str:  # content stays out of logs and tracebacks
        return f"Message(id={self.id}, type={self.content_type}, content=<hidden>)"

    @property
    def type_id(self) -> str:
        """The content type without its version (`authority/type`): what `uses_codec` compares."""
        return self.content_type.split(":", 1)[0]


def message_from_event(event: MessageEvent, registry: ContentRegistry) -> Message:
    """The handler's view of a message: content decoded, or None (and a warning) when it does not decode."""
    try:
        decoded = registry.decode_bytes(event.encoded_content)
        content, fallback = decoded.value, decoded.fallback
    except ContentError as exc:
        log.warning("message %s: undecodable content (%s)", event.message_id, clean_error(exc))
        content, fallback = None, None
    return Message(
        event.message_id, event.conversation_id, event.sender_inbox_id, event.sent_ns, event.content_type,
        content, fallback, event.is_own,
    )  # fmt: skip


Upload = Callable[[EncryptedAttachment], Awaitable[str]]
"""Stores an encrypted attachment's ciphertext somewhere and returns its https URL (the Agent SDK's
AttachmentUploadCallback)."""


@dataclass
class Conversation:
    """A DM or group as crypto reported it, with send helpers."""

    info: BusConversation
    transport: Transport
    agent_name: str
    registry: ContentRegistry = field(default_factory=default_registry, repr=False)

    @property
    def id(self) -> str:
        return self.info.conversation_id

    @property
    def is_dm(self) -> bool:
        return self.info.kind == "dm"

    @property
    def is_group(self) -> bool:
        return self.info.kind == "group"

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def members(self) -> list[str]:
        return list(self.info.members)

    @property
    def dm_peer_inbox_id(self) -> str | None:
        return self.info.dm_peer_inbox_id

    @property
    def description(self) -> str:
        return self.info.description

    @property
    def image_url(self) -> str:
        return self.info.image_url

    @property
    def creator_inbox_id(self) -> str:
        return self.info.creator_inbox_id

    @property
    def admins(self) -> list[str]:
        return list(self.info.admins)

    @property
    def super_admins(self) -> list[str]:
        return list(self.info.super_admins)

    def is_admin(self, inbox_id: str) -> bool:
        return inbox_id in self.info.admins

    def is_super_admin(self, inbox_id: str) -> bool:
        return inbox_id in self.info.super_admins

    # ---- membership and metadata (operations on crypto; each answers once the commit is merged) ------------

    async def _op(self, request: dict[str, Any]) -> Any:
        response = await self.transport.op({**request, "conversation_id": self.id})
        if response.conversation is not None:
            self.info = response.conversation  # what crypto has after the change
        return response

    async def refresh(self) -> Conversation:
        """Members, metadata and admins as crypto has them now."""
        await self._op({"op": "conversation"})
        return self

    async def list_members(self) -> list[Member]:
        return list((await self._op({"op": "members"})).members or [])

    async def add_members(self, inbox_ids: list[str]) -> None:
        await self._op({"op": "add_members", "inbox_ids": inbox_ids})

    async def remove_members(self, inbox_ids: list[str]) -> None:
        await self._op({"op": "remove_members", "inbox_ids": inbox_ids})

    async def update_name(self, name: str) -> None:
        await self._op({"op": "update_metadata", "name": name})

    async def update_description(self, description: str) -> None:
        await self._op({"op": "update_metadata", "description": description})

    async def update_image_url(self, image_url: str) -> None:
        await self._op({"op": "update_metadata", "image_url": image_url})

    async def add_admin(self, inbox_id: str) -> None:
        await self._op({"op": "set_admin", "inbox_id": inbox_id, "admin": True})

    async def remove_admin(self, inbox_id: str) -> None:
        await self._op({"op": "set_admin", "inbox_id": inbox_id, "admin": False})

    async def add_super_admin(self, inbox_id: str) -> None:
        await self._op({"op": "set_admin", "inbox_id": inbox_id, "admin": True, "super_admin": True})

    async def remove_super_admin(self, inbox_id: str) -> None:
        await self._op({"op": "set_admin", "inbox_id": inbox_id, "admin": False, "super_admin": True})

    # ---- sends ---------------------------------------------------------------------------------------------

    async def send_text(self, text: str, *, idempotency_key: str) -> str:
        return await self._send(TextCommand, idempotency_key, text=text)

    async def send_markdown(self, markdown: str, *, idempotency_key: str) -> str:
        return await self._send(MarkdownCommand, idempotency_key, markdown=markdown)

    async def send_reaction(
        self, reference: str, emoji: str, *, idempotency_key: str, action: str = "added",
        schema: str = "unicode", reference_inbox_id: str | None = None,
    ) -> str:  # fmt: skip
        return await self._send(
            ReactionCommand, idempotency_key, reference=reference, reference_inbox_id=reference_inbox_id,
            content=emoji, action=action, schema=schema,
        )  # fmt: skip

    async def send_reply(
        self, reference: str, content: Any, *, idempotency_key: str, reference_inbox_id: str | None = None
    ) -> str:
        """A reply to message ``reference`` with any content (a str is text, `Markdown` markdown…)."""
        inner = self.registry.encode(content)
        return await self.send(Reply(reference, inner, reference_inbox_id), idempotency_key=idempotency_key)

    async def send_read_receipt(self, *, idempotency_key: str) -> str:
        return await self.send(ReadReceipt(), idempotency_key=idempotency_key)

    async def send_attachment(self, attachment: Attachment, *, idempotency_key: str) -> str:
        """A file inline (it must fit in one message: use `send_remote_attachment` for big files)."""
        return await self.send(attachment, idempotency_key=idempotency_key)

    async def send_remote_attachment(self, attachment: Attachment, upload: Upload, *, idempotency_key: str) -> str:
        """Encrypt ``attachment``, hand the ciphertext to ``upload`` (which returns its https URL), send the
        remote attachment. The upload runs again when a handler re-runs; the send does not."""
        encrypted = encrypt_attachment(attachment)
        url = await upload(encrypted)
        return await self._send(
            AttachmentCommand, idempotency_key, url=url, content_digest=encrypted.content_digest,
            secret=encrypted.secret, salt=encrypted.salt, nonce=encrypted.nonce,
            content_length=len(encrypted.ciphertext), filename=attachment.filename,
        )  # fmt: skip

    async def send_multi_remote_attachment(self, value: MultiRemoteAttachment, *, idempotency_key: str) -> str:
        return await self.send(value, idempotency_key=idempotency_key)

    async def send_transaction_reference(self, value: TransactionReference, *, idempotency_key: str) -> str:
        return await self.send(value, idempotency_key=idempotency_key)

    async def send_wallet_send_calls(self, value: WalletSendCalls, *, idempotency_key: str) -> str:
        return await self.send(value, idempotency_key=idempotency_key)

    async def send_actions(self, value: Actions, *, idempotency_key: str) -> str:
        return await self.send(value, idempotency_key=idempotency_key)

    async def send_intent(self, value: Intent, *, idempotency_key: str) -> str:
        return await self.send(value, idempotency_key=idempotency_key)

    async def send(self, value: Any, *, idempotency_key: str, content_type: Any = None) -> str:
        """Any value a codec of the agent's registry encodes (custom codecs too, if crypto has them)."""
        encoded = self.registry.encode(value, content_type=content_type)
        return await self._send(ContentCommand, idempotency_key, encoded_content=encoded.to_bytes())

    async def _send(self, model: Any, key: str, **fields: Any) -> str:
        """Send one command to this conversation; returns the message id."""
        cmd = model(agent=self.agent_name, idempotency_key=key, conversation_id=self.id, **fields)
        result = await self.transport.command(cmd)
        if not result.ok:
            raise AgentError(result.error or "failed", result.detail)
        return result.message_id or ""


@dataclass
class _Steps:
    """The idempotency keys of one handler run: its scope and a counter."""

    scope: str
    n: int = 0

    def next(self) -> str:
        self.n += 1
        digest = hashlib.sha256(self.scope.encode()).hexdigest()[:40]
        return f"h-{digest}-{self.n}"


@dataclass
class ConversationContext:
    """The context of a conversation event (joined, updated)."""

    agent: Agent
    conversation: Conversation
    event_id: str
    _steps: _Steps = field(init=False)
    args: list[str] = field(default_factory=list)
    match: Any = None

    def __post_init__(self) -> None:
        self._steps = _Steps(self.scope)

    @property
    def scope(self) -> str:
        """What this handler run is about, the same in every re-run: the event's id (a message's id for a
        message, see `MessageContext`). Sends and `once` effects are keyed by it."""
        return self.event_id

    def idempotency_key(self) -> str:
        """The key of this handler's next send (derived from the scope and the send's position)."""
        return self._steps.next()

    async def once(
        self, name: str, fn: Callable[..., Awaitable[Any]], *, lease_s: float = LEASE_S, retry_interrupted: bool = True
    ) -> Any:
        """Run the side effect ``fn`` (``async def fn()``, or ``fn(attempt)`` with an `Attempt`) once for this
        scope and ``name``, across re-runs and replicas, and return its result (a JSON value), recorded on the
        first run. A claim whose process died is run again after ``lease_s`` (at least once: pass
        ``attempt.key`` downstream as its idempotency key), or with ``retry_interrupted=False`` never again
        (`EffectInterrupted`: at most once). Contract in `router.effects`."""
        return await self.agent.effects.once(self.scope, name, fn, lease_s=lease_s, retry_interrupted=retry_interrupted)

    async def send_text(self, text: str) -> str:
        return await self.conversation.send_text(text, idempotency_key=self.idempotency_key())

    async def send_markdown(self, markdown: str) -> str:
        return await self.conversation.send_markdown(markdown, idempotency_key=self.idempotency_key())

    async def send_remote_attachment(self, attachment: Attachment, upload: Upload) -> str:
        key = self.idempotency_key()
        return await self.conversation.send_remote_attachment(attachment, upload, idempotency_key=key)

    def is_dm(self) -> bool:
        return self.conversation.is_dm

    def is_group(self) -> bool:
        return self.conversation.is_group

    def get_client_address(self) -> str:
        return self.agent.address

    async def consent_state(self) -> str:
        """The conversation's consent (`allowed`, `denied`, `unknown`): the SDK's consent getters, awaited."""
        return await self.agent.conversation_consent(self.conversation)

    async def is_allowed(self) -> bool:
        return await self.consent_state() == "allowed"

    async def is_denied(self) -> bool:
        return await self.consent_state() == "denied"

    async def is_unknown(self) -> bool:
        return await self.consent_state() == "unknown"

    async def set_consent(self, state: str) -> None:
        """This conversation's consent; `denied` stops its messages reaching handlers."""
        await self.agent.set_consent(state, conversation_id=self.conversation.id)


@dataclass
class MessageContext(ConversationContext):
    """The context of a message event: ``message``, its ``conversation``, and replies to it."""

    message: Message = field(kw_only=True)

    @property
    def scope(self) -> str:
        """The message's id (it names the conversation, the sender's idempotency key and the content): one
        scope however many envelopes or events carried the message."""
        return f"message:{self.message.id}"

    async def send_text_reply(self, text: str) -> str:
        return await self.conversation._send(
            ReplyCommand, self.idempotency_key(), reference=self.message.id,
            reference_inbox_id=self.message.sender_inbox_id, text=text,
        )  # fmt: skip

    async def send_markdown_reply(self, markdown: str) -> str:
        return await self.conversation.send_reply(
            self.message.id, Markdown(markdown), idempotency_key=self.idempotency_key(),
            reference_inbox_id=self.message.sender_inbox_id,
        )  # fmt: skip

    async def send_reaction(self, emoji: str, schema: str = "unicode", *, action: str = "added") -> str:
        return await self.conversation.send_reaction(
            self.message.id, emoji, idempotency_key=self.idempotency_key(), action=action, schema=schema,
            reference_inbox_id=self.message.sender_inbox_id,
        )  # fmt: skip

    async def send_read_receipt(self) -> str:
        return await self.conversation.send_read_receipt(idempotency_key=self.idempotency_key())

    def get_sender_inbox_id(self) -> str:
        return self.message.sender_inbox_id

    async def get_sender_address(self) -> str | None:
        """The sender's first linked Ethereum address (as the Agent SDK), None when it has none."""
        addresses = await self.agent.lookup_addresses(self.message.sender_inbox_id)
        return addresses[0] if addresses else None

    def uses_codec(self, codec: Any) -> bool:
        """The message is of ``codec``'s type (a codec, its class, a `ContentTypeId` or `authority/type`),
        whatever the version (as the Agent SDK)."""
        return self.message.type_id == type_id_of(codec)

    def is_text(self) -> bool:
        return self.message.type_id == "xmtp.org/text"

    def is_markdown(self) -> bool:
        return self.message.type_id == "xmtp.org/markdown"

    def is_reply(self) -> bool:
        return self.message.type_id == "xmtp.org/reply"

    def is_reaction(self) -> bool:
        return self.message.type_id == "xmtp.org/reaction"

    def is_read_receipt(self) -> bool:
        return self.message.type_id == "xmtp.org/readReceipt"

    def is_remote_attachment(self) -> bool:
        return self.message.type_id == "xmtp.org/remoteStaticAttachment"

    def is_transaction_reference(self) -> bool:
        return self.message.type_id == "xmtp.org/transactionReference"

    def is_wallet_send_calls(self) -> bool:
        return self.message.type_id == "xmtp.org/walletSendCalls"

    async def in_reply_to(self) -> Message | None:
        """The message a reply answers, as crypto stored it (the SDK's EnrichedReply.inReplyTo); None when this
        is no reply or the message is not known (sent before the agent joined, or in another conversation)."""
        value = self.message.content
        if not isinstance(value, Reply):
            return None
        return await self.agent.get_message(self.conversation.id, value.reference)

    def reply_content(self) -> Any:
        """A reply's inner content decoded (a str for a text reply), or None when this is no reply."""
        value = self.message.content
        if not isinstance(value, Reply):
            return None
        return self.conversation.registry.decode(value.content).value


def type_id_of(codec: Any) -> str:
    """`authority/type` of a codec, codec class, `ContentTypeId` or type string (its version dropped)."""
    content_type = getattr(codec, "content_type", codec)
    authority, type_id = getattr(content_type, "authority_id", None), getattr(content_type, "type_id", None)
    if isinstance(authority, str) and isinstance(type_id, str):
        return f"{authority}/{type_id}"
    return str(content_type).split(":", 1)[0]
