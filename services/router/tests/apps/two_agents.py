"""Two agents for `test_main`: each records the texts it handled (the test runs them in one router process)."""

from router import Agent, MessageContext
from router.consent import MemoryConsent

seen: list[tuple[str, str]] = []
first = Agent("multi_a")
second = Agent("multi_b")
twin = Agent("multi_a")  # the same name as `first`: refused beside it

for _agent in (first, second, twin):
    _agent.consent = MemoryConsent()


@first.on("text")
async def first_text(ctx: MessageContext) -> None:
    seen.append(("multi_a", str(ctx.message.content)))


@second.on("text")
async def second_text(ctx: MessageContext) -> None:
    seen.append(("multi_b", str(ctx.message.content)))
