"""The agent API without a network: events dispatched to the first matching handler, then `message`; filters
composed with & | ~; handler arguments by name; a handler's error goes to `unhandled_error` and never out;
the agent's own messages are skipped; sends are keyed by event and step (a re-run repeats the same keys)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from router import Agent, Conversation, MessageContext, Router
from router import filters as F
from router.agent import event_for_content_type
from router.context import Message
from xmtp_core.bus.schemas import CommandResult, ConversationInfo, OpResponse


class FakeTransport:
    def __init__(self) -> None:
        self.commands: list[Any] = []

    async def command(self, command: Any) -> CommandResult:
        self.commands.append(command)
        return CommandResult(ok=True, idempotency_key=command.idempotency_key, message_id="ab" * 32)

    async def op(self, request: dict[str, Any]) -> OpResponse:
        info = ConversationInfo(conversation_id="cd" * 16, kind="dm", dm_peer_inbox_id=request.get("to_inbox_id"))
        return OpResponse(op=request["op"], ok=True, conversation=info)


def _ctx(agent: Agent, text: Any, *, kind: str = "dm", own: bool = False, event_id: str = "ev-1") -> MessageContext:
    transport = FakeTransport()
    agent.transport = transport
    info = ConversationInfo(conversation_id="ef" * 16, kind=kind)  # type: ignore[arg-type]
    content_type = "xmtp.org/text:1.0" if isinstance(text, str) else "xmtp.org/reaction:1.0"
    message_id = hashlib.sha256(event_id.encode()).hexdigest()  # one message per event
    message = Message(message_id, info.conversation_id, "inbox-a", 1, content_type, text, None, own)
    return MessageContext(agent, Conversation(info, transport, agent.name), event_id, message=message)


async def test_first_matching_handler_then_message() -> None:
    agent, seen = Agent("t"), []

    @agent.on("text", F.text("ping"))
    async def ping(ctx: MessageContext) -> None:
        seen.append("ping")

    @agent.on("text")
    async def anything(ctx: MessageContext) -> None:
        seen.append("text")

    @agent.on("message")
    async def every(message: Message) -> None:
        seen.append(f"message:{message.content}")

    await agent.dispatch_message(_ctx(agent, "ping"))
    await agent.dispatch_message(_ctx(agent, "other"))
    assert seen == ["ping", "message:ping", "text", "message:other"]


async def test_filters_compose_and_commands_fill_args() -> None:
    agent, seen = Agent("t"), []

    @agent.on("text", F.command("add") & ~F.is_dm)
    async def add(ctx: MessageContext, args: list[str]) -> None:
        seen.append(args)

    @agent.on("text", F.regex(r"^n(\d+)$") | F.text("zero"))
    async def number(match: Any) -> None:
        seen.append(match.group(1) if match else "zero")

    await agent.dispatch_message(_ctx(agent, "/add 1 2", kind="group"))
    await agent.dispatch_message(_ctx(agent, "/add 1 2", kind="dm"))  # ~is_dm refuses it
    await agent.dispatch_message(_ctx(agent, "n42"))
    assert seen == [["1", "2"], "42"]


async def test_a_handler_error_goes_to_unhandled_error_and_never_out() -> None:
    agent, errors = Agent("t"), []

    @agent.on("text")
    async def broken(ctx: MessageContext) -> None:
        raise ValueError("boom")

    @agent.on("unhandled_error")
    async def report(ctx: MessageContext, error: Exception) -> None:
        errors.append(str(error))

    assert await agent.dispatch_message(_ctx(agent, "hi"))
    assert errors == ["boom"]


async def test_own_messages_are_skipped_unless_asked() -> None:
    agent, seen = Agent("t"), []

    @agent.on("text")
    async def others(ctx: MessageContext) -> None:
        seen.append("others")

    await agent.dispatch_message(_ctx(agent, "mine", own=True))
    assert seen == []
    mirror = Agent("m")

    @mirror.on("text", own=True)
    async def all_of_them(ctx: MessageContext) -> None:
        seen.append("own")

    await mirror.dispatch_message(_ctx(mirror, "mine", own=True))
    assert seen == ["own"]


async def test_sends_are_keyed_by_event_and_step_so_a_rerun_repeats_them() -> None:
    agent = Agent("t")

    @agent.on("text")
    async def twice(ctx: MessageContext) -> None:
        await ctx.send_text("one")
        await ctx.send_reaction("👍")

    first, again, other = _ctx(agent, "x"), _ctx(agent, "x"), _ctx(agent, "x", event_id="ev-2")
    for ctx in (first, again, other):
        await agent.dispatch_message(ctx)
    keys = [[c.idempotency_key for c in ctx.conversation.transport.commands] for ctx in (first, again, other)]  # type: ignore[attr-defined]
    assert keys[0] == keys[1] and len(set(keys[0])) == 2 and not set(keys[0]) & set(keys[2])


async def test_routers_are_included_in_order_and_events_are_checked() -> None:
    agent, admin, seen = Agent("t"), Router("admin"), []

    @admin.on("text", F.command("kick"))
    async def kick(ctx: MessageContext) -> None:
        seen.append("kick")

    @agent.on("text")
    async def fallback(ctx: MessageContext) -> None:
        seen.append("fallback")

    agent.include_router(admin)
    await agent.dispatch_message(_ctx(agent, "/kick"))
    assert seen == ["fallback"]  # the agent's own handlers come first, then included routers'
    with pytest.raises(ValueError, match="unknown event"):
        agent.on("txt")
    with pytest.raises(ValueError):
        admin.include_router(admin)
    assert event_for_content_type("xmtp.org/reaction:2.0") == "reaction"
    assert event_for_content_type("example.com/custom:1.0") == "unknown_message"


async def test_create_dm_goes_through_the_transport() -> None:
    agent = Agent("t")
    agent.transport = FakeTransport()
    dm = await agent.create_dm("inbox-b")
    assert dm.is_dm and dm.dm_peer_inbox_id == "inbox-b"
