"""The echo agent: answers TEXT messages only, in the same conversation, never its own messages.

    ping            -> pong
    /react          -> a reaction on the triggering message
    /reply          -> a reply referencing the triggering message
    /markdown       -> a markdown message
    /dm-me          -> (in a group) a new DM with the sender: "hello from dm"
    /group-with-me  -> (in a DM) a group with the sender named "agent group": "welcome"
    anything else T -> "echo: T"

Run it: `switchboard router --app examples.echo:agent` (with crypto, ingest and publisher up; `make run` does it).
"""

from router import Agent, MessageContext
from router import filters as F

agent = Agent("echo")


@agent.on("text", F.text("ping"))
async def ping(ctx: MessageContext) -> None:
    await ctx.send_text("pong")


@agent.on("text", F.command("react"))
async def react(ctx: MessageContext) -> None:
    await ctx.send_reaction("👍")


@agent.on("text", F.command("reply"))
async def reply(ctx: MessageContext) -> None:
    await ctx.send_text_reply("this is a reply")


@agent.on("text", F.command("markdown"))
async def markdown(ctx: MessageContext) -> None:
    await ctx.send_markdown("**bold** and _italic_")


@agent.on("text", F.command("dm-me") & F.is_group)
async def dm_me(ctx: MessageContext) -> None:
    dm = await ctx.agent.create_dm(ctx.message.sender_inbox_id)
    await dm.send_text("hello from dm", idempotency_key=ctx.idempotency_key())


@agent.on("text", F.command("group-with-me") & F.is_dm)
async def group_with_me(ctx: MessageContext) -> None:
    group = await ctx.agent.create_group([ctx.message.sender_inbox_id], name="agent group")
    await group.send_text("welcome", idempotency_key=ctx.idempotency_key())


@agent.on("text")
async def echo(ctx: MessageContext) -> None:
    await ctx.send_text(f"echo: {ctx.message.content}")
