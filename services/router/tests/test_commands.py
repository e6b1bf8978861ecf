"""CommandRouter: commands matched on the first word lowercased with args and the rest of the text, a sorted,
numbered markdown `/help` sent as a reply, the default handler, non-commands and non-text going on to the
next middleware; names checked at registration."""

from __future__ import annotations

from typing import Any

import pytest
from router import Agent, CommandRouter, MessageContext
from xmtp_core.content import Markdown, Reply, default_registry

from .conftest import MakeCtx


def _bot(seen: list[Any]) -> tuple[Agent, CommandRouter]:
    agent, commands = Agent("t"), CommandRouter()

    @commands.command("/Price", "the price of a token")
    async def price(args: list[str], text: str) -> None:
        seen.append(("price", args, text))

    @commands.command("/about")
    async def about(ctx: MessageContext) -> None:
        seen.append("about")

    @agent.on("text")
    async def fallthrough(ctx: MessageContext) -> None:
        seen.append(("text", ctx.message.content))

    agent.use(commands.middleware())
    return agent, commands


async def test_commands_match_the_first_word_lowercased(make_ctx: MakeCtx) -> None:
    seen: list[Any] = []
    agent, _ = _bot(seen)
    await agent.dispatch_message(make_ctx(agent, "/PRICE eth  usd"))
    await agent.dispatch_message(make_ctx(agent, "/about"))
    await agent.dispatch_message(make_ctx(agent, "/pricey"))
    await agent.dispatch_message(make_ctx(agent, "what is /price"))
    assert seen == [("price", ["eth", "usd"], "eth  usd"), "about", ("text", "/pricey"), ("text", "what is /price")]


async def test_help_is_a_sorted_numbered_markdown_reply(make_ctx: MakeCtx) -> None:
    seen: list[Any] = []
    agent, commands = _bot(seen)
    ctx = make_ctx(agent, "/HELP")
    await agent.dispatch_message(ctx)
    (command,) = ctx.conversation.transport.commands  # type: ignore[attr-defined]
    registry = default_registry()
    reply = registry.decode_bytes(command.encoded_content).value
    assert isinstance(reply, Reply) and reply.reference == ctx.message.id
    text = registry.decode(reply.content).value
    assert isinstance(text, Markdown)
    assert text.text.splitlines()[2:] == ["1. `/about`", "2. `/price`: the price of a token", "3. `/help`: this list"]
    assert commands.command_list[0] == ("/about", "") and seen == []


async def test_default_handler_and_non_text(make_ctx: MakeCtx) -> None:
    seen: list[Any] = []
    agent, commands = _bot(seen)

    @commands.default
    async def anything(text: str) -> None:
        seen.append(("default", text))

    await agent.dispatch_message(make_ctx(agent, "hello there"))
    await agent.dispatch_message(make_ctx(agent, object(), content_type="xmtp.org/reaction:1.0"))
    assert seen == [("default", "hello there")]  # the reaction went on (no reaction handler)
    assert await commands.handle(make_ctx(agent, "/about")) and not await CommandRouter().handle(make_ctx(agent, "x"))


def test_names_are_checked() -> None:
    commands = CommandRouter()

    async def h(ctx: Any) -> None: ...

    for bad in ("price", "/", "/two words", "/" + "x" * 64):
        with pytest.raises(ValueError):
            commands.command(bad, handler=h)
    commands.command("/x", handler=h)
    with pytest.raises(ValueError):
        commands.command("/X", handler=h)
    with pytest.raises(ValueError):
        commands.command("/help", handler=h)
    with pytest.raises(TypeError):
        commands.command("/y", handler=lambda ctx: None)
