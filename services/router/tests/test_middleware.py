"""Middleware with the Agent SDK's semantics, awaited: outer middleware in order around dispatch (next continues,
return stops, raise runs the error chain and a recovery resumes with the next middleware), inner middleware
around each matched handler, error middleware (next() recovers, next(err) passes on, return stops, raise
passes the raised error on, the default step calls unhandled_error)."""

from __future__ import annotations

from typing import Any

import pytest
from router import Agent, MessageContext, Router
from router import filters as F

from .conftest import MakeCtx


def _agent(seen: list[str]) -> Agent:
    agent = Agent("t")

    @agent.on("text")
    async def text(ctx: MessageContext) -> None:
        seen.append("text")

    @agent.on("message")
    async def message(ctx: MessageContext) -> None:
        seen.append("message")

    @agent.on("unhandled_error")
    async def unhandled(error: Exception) -> None:
        seen.append(f"unhandled:{error}")

    return agent


async def test_outer_middleware_runs_in_order_around_the_events(make_ctx: MakeCtx) -> None:
    seen: list[str] = []
    agent = _agent(seen)

    async def first(ctx: Any, next: Any) -> None:
        seen.append("1<")
        await next()
        seen.append("1>")

    async def second(ctx: Any, next: Any) -> None:
        seen.append("2<")
        await next()
        seen.append("2>")

    agent.use(first, [second])
    assert await agent.dispatch_message(make_ctx(agent, "hi"))
    assert seen == ["1<", "2<", "text", "message", "2>", "1>"]


async def test_returning_without_next_stops_the_chain(make_ctx: MakeCtx) -> None:
    seen: list[str] = []
    agent = _agent(seen)

    async def gate(ctx: Any, next: Any) -> None:
        seen.append("gate")
        if ctx.message.content != "blocked":
            await next()

    async def after(ctx: Any, next: Any) -> None:
        seen.append("after")
        await next()

    agent.use(gate, after)
    assert not await agent.dispatch_message(make_ctx(agent, "blocked"))
    assert seen == ["gate"]
    await agent.dispatch_message(make_ctx(agent, "ok"))
    assert seen == ["gate", "gate", "after", "text", "message"]


async def test_next_twice_dispatches_once(make_ctx: MakeCtx) -> None:
    seen: list[str] = []
    agent = _agent(seen)

    async def greedy(ctx: Any, next: Any) -> None:
        await next()
        await next()

    agent.use(greedy)
    await agent.dispatch_message(make_ctx(agent, "x"))
    assert seen == ["text", "message"]


async def test_a_raising_middleware_runs_the_error_chain_and_a_recovery_resumes_with_the_next(
    make_ctx: MakeCtx,
) -> None:
    seen: list[str] = []
    agent = _agent(seen)

    async def broken(ctx: Any, next: Any) -> None:
        seen.append("broken")
        raise ValueError("mw failed")

    async def after(ctx: Any, next: Any) -> None:
        seen.append("after")
        await next()

    async def recover(error: Exception, ctx: Any, next: Any) -> None:
        seen.append(f"recover:{error}")
        await next()

    agent.use(broken, after)
    agent.errors.use(recover)
    await agent.dispatch_message(make_ctx(agent, "x"))
    assert seen == ["broken", "recover:mw failed", "after", "text", "message"]


async def test_an_unrecovered_middleware_error_stops_and_reaches_unhandled_error(make_ctx: MakeCtx) -> None:
    seen: list[str] = []
    agent = _agent(seen)

    async def broken(ctx: Any, next: Any) -> None:
        raise ValueError("mw failed")

    agent.use(broken)
    assert not await agent.dispatch_message(make_ctx(agent, "x"))
    assert seen == ["unhandled:mw failed"]


async def test_a_middleware_raising_after_next_does_not_dispatch_twice(make_ctx: MakeCtx) -> None:
    seen: list[str] = []
    agent = _agent(seen)

    async def late(ctx: Any, next: Any) -> None:
        await next()
        raise ValueError("late")

    async def recover(error: Exception, ctx: Any, next: Any) -> None:
        await next()

    agent.use(late)
    agent.errors.use(recover)
    await agent.dispatch_message(make_ctx(agent, "x"))
    assert seen == ["text", "message"]


async def test_error_middleware_next_err_passes_on_return_stops_raise_passes_the_raised(make_ctx: MakeCtx) -> None:
    seen: list[str] = []
    agent = _agent(seen)

    @agent.on("reaction")
    async def boom(ctx: MessageContext) -> None:
        raise ValueError("handler failed")

    async def transform(error: Exception, ctx: Any, next: Any) -> None:
        seen.append(f"transform:{error}")
        await next(RuntimeError(f"wrapped {error}"))

    async def rethrow(error: Exception, ctx: Any, next: Any) -> None:
        seen.append(f"rethrow:{error}")
        raise KeyError("raised")

    async def swallow(error: Exception, ctx: Any, next: Any) -> None:
        seen.append(f"swallow:{error}")
        if "stop" in str(ctx.message.content):
            return
        await next(error)

    agent.errors.use(transform, rethrow, swallow)
    reaction = "xmtp.org/reaction:1.0"
    assert await agent.dispatch_message(make_ctx(agent, "stop", content_type=reaction))
    assert seen == ["transform:handler failed", "rethrow:wrapped handler failed", "swallow:'raised'"]
    seen.clear()
    await agent.dispatch_message(make_ctx(agent, "go on", content_type=reaction))
    assert seen[-1] == "unhandled:'raised'"  # the default step, last; `message` does not fire either
    assert "message" not in seen


async def test_a_recovered_handler_error_lets_message_fire(make_ctx: MakeCtx) -> None:
    seen: list[str] = []
    agent = _agent(seen)

    @agent.on("reaction")
    async def boom(ctx: MessageContext) -> None:
        raise ValueError("handler failed")

    async def recover(error: Exception, ctx: Any, next: Any) -> None:
        await next()

    agent.errors.use(recover)
    await agent.dispatch_message(make_ctx(agent, "x", content_type="xmtp.org/reaction:1.0"))
    assert seen == ["message"]


async def test_inner_middleware_wraps_matched_handlers_of_its_router_outermost_first(make_ctx: MakeCtx) -> None:
    seen: list[str] = []
    agent, admin = Agent("t"), Router("admin")

    @admin.on("text", F.command("kick"))
    async def kick(ctx: MessageContext) -> None:
        seen.append("kick")

    @agent.on("text", F.text("skip"))
    async def skipped(ctx: MessageContext) -> None:
        seen.append("never")

    def mark(name: str) -> Any:
        async def mw(ctx: Any, next: Any) -> Any:
            seen.append(f"{name}<")
            if ctx.message.content == "skip":
                return None  # the handler is skipped; the event counts as handled
            result = await next()
            seen.append(f"{name}>")
            return result

        return mw

    agent.use_inner(mark("agent"))
    admin.use_inner(mark("admin"))
    agent.include_router(admin)
    await agent.dispatch_message(make_ctx(agent, "/kick"))
    assert seen == ["agent<", "admin<", "kick", "admin>", "agent>"]
    seen.clear()
    assert await agent.dispatch_message(make_ctx(agent, "skip"))
    assert seen == ["agent<"]  # filters first: inner middleware ran only for the handler that matched


async def test_inner_middleware_can_catch_the_handlers_error(make_ctx: MakeCtx) -> None:
    seen: list[str] = []
    agent = _agent(seen)

    @agent.on("reaction")
    async def boom(ctx: MessageContext) -> None:
        raise ValueError("caught")

    async def guard(ctx: Any, next: Any) -> None:
        try:
            await next()
        except ValueError as exc:
            seen.append(f"guard:{exc}")

    agent.use_inner(guard)
    await agent.dispatch_message(make_ctx(agent, "x", content_type="xmtp.org/reaction:1.0"))
    assert seen == ["guard:caught", "message"]


def test_middleware_must_be_callable() -> None:
    with pytest.raises(TypeError):
        Agent("t").use("not a function")  # type: ignore[arg-type]
