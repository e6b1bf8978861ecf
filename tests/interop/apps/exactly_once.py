"""An agent for the exactly-once pipeline test: `/charge N` charges once (`ctx.once`, each charge a line in the
file `SB_TEST_EFFECTS`) and answers `charged N, receipt R`; with `SB_TEST_STALL_AFTER_EFFECT` set the handler
stops after the effect and before its reply (the test SIGKILLs that router there); any other text T gets
`echo: T`."""

import asyncio
import os
from pathlib import Path

from router import Agent, MessageContext
from router import filters as F

agent = Agent("once")


@agent.on("text", F.command("charge"))
async def charge(ctx: MessageContext, args: list[str]) -> None:
    amount = " ".join(args)

    async def effect() -> dict[str, int]:
        return {"receipt": await asyncio.to_thread(_record, amount)}

    receipt = await ctx.once("charge", effect)
    if os.environ.get("SB_TEST_STALL_AFTER_EFFECT"):
        await asyncio.sleep(3600)  # killed here: the effect is recorded, the reply not sent
    await ctx.send_text(f"charged {amount}, receipt {receipt['receipt']}")


@agent.on("text")
async def echo(ctx: MessageContext) -> None:
    await ctx.send_text(f"echo: {ctx.message.content}")


def _record(amount: str) -> int:
    """One charge: a line in the effects file; its line number is the receipt."""
    path = Path(os.environ["SB_TEST_EFFECTS"])
    with path.open("a") as out:
        out.write(f"{amount}\n")
    return len(path.read_text().splitlines())
