"""The router: agent code behind a Python agent API, fed by the events crypto puts on SB_EV.

    from router import Agent, MessageContext

    agent = Agent("echo")

    @agent.on("text")
    async def echo(ctx: MessageContext) -> None:
        await ctx.send_text(f"echo: {ctx.message.content}")

`switchboard router --app examples.echo:agent` runs it; several router replicas share the load (per
conversation in order, conversations in parallel). The router never touches MLS state or the store: it sees
events and sends commands (SB_OUT) and operations (`sb.ops.<agent>`).

- `agent`: `Agent`, `Router` (handlers grouped and included), event names; `filters`: composable filters;
  `context`: `Message`, `Conversation`, `MessageContext`, `ConversationContext` and their send helpers;
  `transport`: commands and operations over NATS; `worker`: SB_EV consumed per partition into the agent;
  `commands`: `CommandRouter` (slash commands, `/help`); `wizard`: `ActionWizard` (guided flows) with its
  sessions in a router-owned Postgres table (`sessions`); `effects`: `ctx.once` / `agent.once`, side effects
  run once per message (or event) and name, recorded in a router-owned Postgres table.
"""

from router.agent import Agent, Router
from router.commands import CommandRouter
from router.context import Conversation, ConversationContext, Message, MessageContext
from router.effects import Attempt, EffectInterrupted
from router.filters import Filter
from router.wizard import ActionWizard

__all__ = [
    "ActionWizard",
    "Agent",
    "Attempt",
    "CommandRouter",
    "Conversation",
    "ConversationContext",
    "EffectInterrupted",
    "Filter",
    "Message",
    "MessageContext",
    "Router",
]
