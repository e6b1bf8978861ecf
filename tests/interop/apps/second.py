"""More agents of the same deployment: `agent` answers every text with `second: T`, `third` with `third: T`."""

from router import Agent, MessageContext

agent = Agent("second")
third = Agent("third")


@agent.on("text")
async def answer(ctx: MessageContext) -> None:
    await ctx.send_text(f"second: {ctx.message.content}")


@third.on("text")
async def answer_third(ctx: MessageContext) -> None:
    await ctx.send_text(f"third: {ctx.message.content}")
