"""The inspector agent: answers every message with the event it fired and what it carried, one text line.

    text "hi"              -> "text: hi"
    a reaction 👍           -> "reaction: 👍"
    a reply "yes" to "hi"  -> "reply: yes (to: hi)"
    a wallet send calls    -> "wallet-send-calls: 0x2105"
    ...every content event of the Agent SDK, and `unknown_message` with the content type

Useful to see what a client sends; the pipeline test of every content event runs it. Run it:
`switchboard router --app examples.inspector:agent`.
"""

from typing import Any

from router import Agent, MessageContext
from router.agent import CONTENT_EVENTS

agent = Agent("inspector")

SUMMARY: dict[str, Any] = {
    "text": lambda ctx: ctx.message.content,
    "markdown": lambda ctx: ctx.message.content.text,
    "reaction": lambda ctx: ctx.message.content.content,
    "reply": lambda ctx: ctx.reply_content(),
    "read-receipt": lambda ctx: "read",
    "inline-attachment": lambda ctx: ctx.message.content.filename,
    "attachment": lambda ctx: ctx.message.content.filename,
    "multi-attachment": lambda ctx: len(ctx.message.content.attachments),
    "transaction-reference": lambda ctx: ctx.message.content.reference,
    "wallet-send-calls": lambda ctx: ctx.message.content.chain_id,
    "actions": lambda ctx: ctx.message.content.id,
    "intent": lambda ctx: ctx.message.content.action_id,
    "group-update": lambda ctx: ",".join(c.field_name for c in ctx.message.content.metadata_field_changes),
    "leave-request": lambda ctx: "leave",
    "unknown_message": lambda ctx: ctx.message.content_type,
}


def _answer(event: str) -> Any:
    async def answer(ctx: MessageContext) -> None:
        summary = SUMMARY[event](ctx)
        if event == "reply":  # the message replied to, as crypto stored it
            original = await ctx.in_reply_to()
            summary = f"{summary} (to: {original.content if original else '?'})"
        await ctx.send_text(f"{event}: {summary}")

    answer.__name__ = f"on_{event.replace('-', '_')}"
    return answer


for _event in [*CONTENT_EVENTS.values(), "unknown_message"]:
    agent.on(_event)(_answer(_event))
