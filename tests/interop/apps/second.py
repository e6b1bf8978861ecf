"""A second agent of the same deployment: it answers every text with `second: T`."""

from router import Agent, MessageContext

agent = Agent("second")


@agent.on("text")
async def answer(ctx: MessageContext) -> None:
    await ctx.send_text(f"second: {ctx.message.content}")
