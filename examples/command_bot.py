"""A command bot: slash commands with descriptions and the automatic `/help` (CommandRouter as middleware).

    /help            -> a markdown reply listing the commands, numbered
    /roll [sides]    -> a die roll, 1..sides (6 by default)
    /echo words...   -> the words back
    /whoami          -> your inbox id and whether this is a DM or a group
    anything else    -> a hint to try /help

Run it: `switchboard router --app examples.command_bot:agent`.
"""

import hashlib

from router import Agent, CommandRouter, MessageContext

agent = Agent("commands")
commands = CommandRouter()


@commands.command("/roll", "roll a die: /roll [sides]")
async def roll(ctx: MessageContext, args: list[str]) -> None:
    sides = int(args[0]) if args and args[0].isdigit() and 1 < int(args[0]) <= 1000 else 6
    # Derived from the message so a re-run after a crash (which sends nothing new) would agree with the first.
    value = int.from_bytes(hashlib.sha256(ctx.message.id.encode()).digest()[:4], "big") % sides + 1
    await ctx.send_text_reply(f"🎲 {value} (1-{sides})")


@commands.command("/echo", "say the words back")
async def echo(ctx: MessageContext, text: str) -> None:
    await ctx.send_text(text or "(nothing to echo)")


@commands.command("/whoami", "your inbox id and this conversation's kind")
async def whoami(ctx: MessageContext) -> None:
    kind = "a DM" if ctx.is_dm() else "a group"
    await ctx.send_text(f"you are {ctx.get_sender_inbox_id()} in {kind}")


agent.use(commands.middleware())


@agent.on("text")
async def hint(ctx: MessageContext) -> None:
    await ctx.send_text("try /help")
