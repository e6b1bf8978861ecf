"""Agents `bench/e2e.py` runs in the router besides `examples.echo:agent`.

- `sleepy`: answers every text as the echo agent does after an IO-bound pause (`SLEEP_S`), for the one worker
  against two comparison.
- `echo_<n>` (any n): an echo agent named `echo_<n>`, made on first use, so one deployment can run many agents
  (`--app bench.e2e_apps:echo_7`).
"""

from __future__ import annotations

import asyncio

from router import Agent, MessageContext

SLEEP_S = 0.02

sleepy = Agent("sleepy")


@sleepy.on("text")
async def _slow_echo(ctx: MessageContext) -> None:
    await asyncio.sleep(SLEEP_S)  # a handler waiting on IO (an API call, a database)
    await ctx.send_text(f"echo: {ctx.message.content}")


_made: dict[str, Agent] = {}


def _echo_agent(name: str) -> Agent:
    agent = Agent(name)

    @agent.on("text")
    async def echo(ctx: MessageContext) -> None:
        await ctx.send_text(f"echo: {ctx.message.content}")

    return agent


def __getattr__(name: str) -> Agent:
    if not name.startswith("echo_"):
        raise AttributeError(name)
    if name not in _made:
        _made[name] = _echo_agent(name)
    return _made[name]
