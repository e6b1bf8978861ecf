"""A transaction request agent: asks you to pay in USDC on Base Sepolia with a wallet-send-calls message (the
Agent SDK's createERC20TransferCalls) and thanks you for the transaction reference your wallet sends back.

    /pay <amount>          -> a wallet-send-calls: transfer <amount> USDC from your address to the agent's
    /send <wei>            -> a wallet-send-calls: a native ETH transfer of <wei> to the agent
    a transaction reference -> "thanks, got <tx hash>"

Run it: `switchboard router --app examples.payments:agent`.
"""

from decimal import Decimal, InvalidOperation

from router import Agent, CommandRouter, MessageContext
from router.utils import create_erc20_transfer_calls, create_native_transfer_calls

agent = Agent("payments")
commands = CommandRouter()

BASE_SEPOLIA = 84532
USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
USDC_DECIMALS = 6


def _units(text: str, decimals: int) -> int | None:
    try:
        value = Decimal(text[:40])
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value > 10**12:
        return None
    return int(value * 10**decimals)


async def _payer(ctx: MessageContext) -> str | None:
    address = await ctx.get_sender_address()
    if address is None:
        await ctx.send_text("I cannot see a wallet address on your inbox")
    return address


@commands.command("/pay", "pay <amount> USDC on Base Sepolia")
async def pay(ctx: MessageContext, args: list[str]) -> None:
    amount = _units(args[0], USDC_DECIMALS) if args else None
    if amount is None:
        await ctx.send_text("usage: /pay <amount>, e.g. /pay 1.5")
        return
    payer = await _payer(ctx)
    if payer is not None:
        calls = create_erc20_transfer_calls(
            chain=BASE_SEPOLIA, token_address=USDC, from_address=payer, to=ctx.agent.address, amount=amount,
            description=f"Pay {args[0]} USDC",
        )  # fmt: skip
        await ctx.conversation.send_wallet_send_calls(calls, idempotency_key=ctx.idempotency_key())


@commands.command("/send", "send <wei> of Base Sepolia ETH")
async def send(ctx: MessageContext, args: list[str]) -> None:
    amount = _units(args[0], 0) if args else None
    payer = await _payer(ctx) if amount is not None else None
    if amount is not None and payer is not None:
        to = ctx.agent.address
        calls = create_native_transfer_calls(chain=BASE_SEPOLIA, from_address=payer, to=to, amount=amount)
        await ctx.conversation.send_wallet_send_calls(calls, idempotency_key=ctx.idempotency_key())


agent.use(commands.middleware())


@agent.on("transaction-reference")
async def paid(ctx: MessageContext) -> None:
    await ctx.send_text(f"thanks, got {ctx.message.content.reference[:80]}")
