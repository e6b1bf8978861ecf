"""A group moderator: makes groups and lets their admins manage them with commands.

    (in a DM)    /group <name>         -> a group with you as admin: "welcome to <name>"
    (in a group, admins only; others get "only admins can do that")
                 /add <inbox id>       -> adds the member            /kick <inbox id>  -> removes the member
                 /rename <name>        -> renames the group          /describe <text>  -> sets the description
                 /promote <inbox id>   -> makes the member an admin
    a member added by someone else    -> "welcome, N new member(s)"

Run it: `switchboard router --app examples.moderator:agent`.
"""

from router import Agent, CommandRouter, MessageContext
from router import filters as F

agent = Agent("moderator")
commands = CommandRouter()


@commands.command("/group", "(in a DM) a new group with you as its admin")
async def new_group(ctx: MessageContext, text: str) -> None:
    if not ctx.is_dm():
        await ctx.send_text("ask me in a DM")
        return
    name = text.strip()[:100] or "moderated group"
    group = await ctx.agent.create_group([ctx.message.sender_inbox_id], name=name)
    await group.add_admin(ctx.message.sender_inbox_id)
    await group.send_text(f"welcome to {name}", idempotency_key=ctx.idempotency_key())


async def _admin(ctx: MessageContext) -> bool:
    """Whether the sender may moderate: checked against the group as crypto has it now, not a cached copy."""
    if not ctx.is_group():
        await ctx.send_text("that works in a group")
        return False
    group = await ctx.conversation.refresh()
    sender = ctx.message.sender_inbox_id
    if group.is_admin(sender) or group.is_super_admin(sender):
        return True
    await ctx.send_text_reply("only admins can do that")
    return False


@commands.command("/add", "add a member by inbox id")
async def add(ctx: MessageContext, args: list[str]) -> None:
    if args and await _admin(ctx):
        await ctx.conversation.add_members(args[:10])
        await ctx.send_text_reply(f"added {len(args[:10])}")


@commands.command("/kick", "remove a member by inbox id")
async def kick(ctx: MessageContext, args: list[str]) -> None:
    if args and await _admin(ctx):
        await ctx.conversation.remove_members(args[:10])
        await ctx.send_text_reply(f"removed {len(args[:10])}")


@commands.command("/rename", "rename the group")
async def rename(ctx: MessageContext, text: str) -> None:
    if text.strip() and await _admin(ctx):
        await ctx.conversation.update_name(text.strip()[:100])
        await ctx.send_text_reply("renamed")


@commands.command("/describe", "set the group's description")
async def describe(ctx: MessageContext, text: str) -> None:
    if await _admin(ctx):
        await ctx.conversation.update_description(text.strip()[:500])
        await ctx.send_text_reply("description set")


@commands.command("/promote", "make a member an admin")
async def promote(ctx: MessageContext, args: list[str]) -> None:
    if args and await _admin(ctx):
        await ctx.conversation.add_admin(args[0])
        await ctx.send_text_reply("promoted")


agent.use(commands.middleware())


@agent.on("group-update", F.is_group)
async def welcome(ctx: MessageContext) -> None:
    added = ctx.message.content.added_inboxes
    if added:
        await ctx.send_text(f"welcome, {len(added)} new member(s)")
