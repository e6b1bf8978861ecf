"""A transport without a network (it records commands and answers ops) and a message-context factory."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from router import Agent, Conversation, MessageContext
from router.context import Message
from xmtp_core.bus.schemas import CommandResult, ConversationInfo, OpResponse

sys.path.insert(0, str(Path(__file__).parents[3] / "libs/xmtp_core/tests/bus"))  # busfixtures
from busfixtures import js, nc, settings

__all__ = ["MakeCtx", "RecordingTransport", "js", "make_ctx", "nc", "settings"]


class RecordingTransport:
    """Commands recorded and answered ok; ops recorded and answered from `answers` (or a DM)."""

    def __init__(self) -> None:
        self.commands: list[Any] = []
        self.ops: list[dict[str, Any]] = []
        self.answers: dict[str, OpResponse] = {}

    async def command(self, command: Any) -> CommandResult:
        self.commands.append(command)
        return CommandResult(ok=True, idempotency_key=command.idempotency_key, message_id="ab" * 32)

    async def op(self, request: dict[str, Any]) -> OpResponse:
        self.ops.append(request)
        if request["op"] in self.answers:
            return self.answers[request["op"]]
        info = ConversationInfo(conversation_id="cd" * 16, kind="dm", dm_peer_inbox_id=request.get("to_inbox_id"))
        return OpResponse(op=request["op"], ok=True, conversation=info)


MakeCtx = Callable[..., MessageContext]


@pytest.fixture
def make_ctx() -> MakeCtx:
    def make(
        agent: Agent,
        content: Any,
        *,
        content_type: str = "xmtp.org/text:1.0",
        kind: str = "dm",
        own: bool = False,
        event_id: str = "ev-1",
        sender: str = "inbox-a",
        info: ConversationInfo | None = None,
        message_id: str | None = None,
    ) -> MessageContext:
        transport = agent.transport if isinstance(agent.transport, RecordingTransport) else RecordingTransport()
        agent.transport = transport
        info = info or ConversationInfo(conversation_id="ef" * 16, kind=kind)  # type: ignore[arg-type]
        message_id = message_id or hashlib.sha256(event_id.encode()).hexdigest()  # one message per event
        message = Message(message_id, info.conversation_id, sender, 1, content_type, content, None, own)
        return MessageContext(agent, Conversation(info, transport, agent.name), event_id, message=message)

    return make
