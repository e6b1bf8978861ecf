"""What a handler sees and does: the message, its conversation, and send helpers (the Agent SDK's context).

Every send of a handler carries an idempotency key made from the inbound event's id and the send's position
in the handler (`step`), so when a handler runs again for the same event (at-least-once delivery after a
crash) its sends are recognised and nothing is sent twice."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from xmtp_core.bus.schemas import ConversationInfo as BusConversation
from xmtp_core.bus.schemas import (
    MarkdownCommand,
    ReactionCommand,
    ReplyCommand,
    TextCommand,
)

from router.transport import AgentError, Transport

if TYPE_CHECKING:
    from router.agent import Agent


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


@dataclass
class Conversation:
    """A DM or group as crypto reported it, with send helpers."""

    info: BusConversation
    transport: Transport
    agent_name: str

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

    async def send_text(self, text: str, *, idempotency_key: str) -> str:
        return await self._send(TextCommand, idempotency_key, text=text)

    async def send_markdown(self, markdown: str, *, idempotency_key: str) -> str:
        return await self._send(MarkdownCommand, idempotency_key, markdown=markdown)

    async def _send(self, model: Any, key: str, **fields: Any) -> str:
        """Send one command to this conversation; returns the message id."""
        cmd = model(agent=self.agent_name, idempotency_key=key, conversation_id=self.id, **fields)
        result = await self.transport.command(cmd)
        if not result.ok:
            raise AgentError(result.error or "failed", result.detail)
        return result.message_id or ""


@dataclass
class _Steps:
    """The idempotency keys of one handler run: the event's id and a counter."""

    event_id: str
    n: int = 0

    def next(self) -> str:
        self.n += 1
        digest = hashlib.sha256(self.event_id.encode()).hexdigest()[:40]
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
        self._steps = _Steps(self.event_id)

    def idempotency_key(self) -> str:
        """The key of this handler's next send (derived from the event and the send's position)."""
        return self._steps.next()

    async def send_text(self, text: str) -> str:
        return await self.conversation.send_text(text, idempotency_key=self.idempotency_key())

    async def send_markdown(self, markdown: str) -> str:
        return await self.conversation.send_markdown(markdown, idempotency_key=self.idempotency_key())


@dataclass
class MessageContext(ConversationContext):
    """The context of a message event: ``message``, its ``conversation``, and replies to it."""

    message: Message = field(kw_only=True)

    async def send_text_reply(self, text: str) -> str:
        return await self.conversation._send(
            ReplyCommand, self.idempotency_key(), reference=self.message.id,
            reference_inbox_id=self.message.sender_inbox_id, text=text,
        )  # fmt: skip

    async def send_reaction(self, emoji: str, *, action: str = "added") -> str:
        return await self.conversation._send(
            ReactionCommand, self.idempotency_key(), reference=self.message.id,
            reference_inbox_id=self.message.sender_inbox_id, content=emoji, action=action,
        )  # fmt: skip

    def get_sender_inbox_id(self) -> str:
        return self.message.sender_inbox_id
