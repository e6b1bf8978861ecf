"""Filters: predicates on a context that compose with `&`, `|` and `~` (aiogram-style), sync or async.

@agent.on("text", filters.command("help") & filters.is_dm)

The Agent SDK's `filter` in snake_case: `from_self`, `has_content`, `is_dm`, `is_group`, `is_group_admin`,
`is_group_super_admin`, `uses_codec(codec)`, and one per content type (`is_text`, `is_markdown`, `is_reaction`,
`is_reply`, `is_text_reply`, `is_read_receipt`, `is_remote_attachment`, `is_multi_remote_attachment`,
`is_attachment`, `is_transaction_reference`, `is_wallet_send_calls`, `is_group_updated`, `is_actions`,
`is_intent`, `is_leave_request`); and `text`, `regex`, `command` on a text's words. Type checks ignore the
version, as the SDK's do. A filter on a context without a message (a conversation event) is False."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

from router.context import type_id_of


class Filter:
    """A predicate on a context; `Filter(fn)` wraps any `fn(ctx) -> bool` (or an awaitable bool)."""

    def __init__(self, check: Callable[[Any], bool | Awaitable[bool]], name: str = "") -> None:
        self._check = check
        self.name = name or getattr(check, "__name__", "filter")

    async def __call__(self, ctx: Any) -> bool:
        result = self._check(ctx)
        if inspect.isawaitable(result):
            result = await result
        return bool(result)

    def __and__(self, other: Filter) -> Filter:
        async def both(ctx: Any) -> bool:
            return await self(ctx) and await other(ctx)

        return Filter(both, f"({self.name} & {other.name})")

    def __or__(self, other: Filter) -> Filter:
        async def either(ctx: Any) -> bool:
            return await self(ctx) or await other(ctx)

        return Filter(either, f"({self.name} | {other.name})")

    def __invert__(self) -> Filter:
        async def negated(ctx: Any) -> bool:
            return not await self(ctx)

        return Filter(negated, f"~{self.name}")

    def __repr__(self) -> str:
        return f"Filter({self.name})"


def as_filter(value: Filter | Callable[[Any], Any]) -> Filter:
    return value if isinstance(value, Filter) else Filter(value)


def _text(ctx: Any) -> str | None:
    content = getattr(getattr(ctx, "message", None), "content", None)
    return content if isinstance(content, str) else None


def _type_id(ctx: Any) -> str:
    content_type = getattr(getattr(ctx, "message", None), "content_type", "")
    return content_type.split(":", 1)[0] if isinstance(content_type, str) else ""


def _sender(ctx: Any) -> str | None:
    sender = getattr(getattr(ctx, "message", None), "sender_inbox_id", None)
    return sender if isinstance(sender, str) else None


def _of_type(type_id: str, name: str) -> Filter:
    return Filter(lambda ctx: _type_id(ctx) == type_id, name)


def uses_codec(codec: Any) -> Filter:
    """The message is of ``codec``'s type (a codec, its class, a `ContentTypeId` or `authority/type`)."""
    wanted = type_id_of(codec)
    return Filter(lambda ctx: _type_id(ctx) == wanted, f"uses_codec({wanted})")


from_self = Filter(lambda ctx: bool(getattr(ctx.message, "is_own", False)), "from_self")
has_content = Filter(lambda ctx: getattr(getattr(ctx, "message", None), "content", None) is not None, "has_content")
is_dm = Filter(lambda ctx: ctx.conversation.is_dm, "is_dm")
is_group = Filter(lambda ctx: ctx.conversation.is_group, "is_group")
is_group_admin = Filter(
    lambda ctx: ctx.conversation.is_group and _sender(ctx) in ctx.conversation.info.admins, "is_group_admin"
)
is_group_super_admin = Filter(
    lambda ctx: ctx.conversation.is_group and _sender(ctx) in ctx.conversation.info.super_admins,
    "is_group_super_admin",
)
is_text = _of_type("xmtp.org/text", "is_text")
is_markdown = _of_type("xmtp.org/markdown", "is_markdown")
is_reaction = _of_type("xmtp.org/reaction", "is_reaction")
is_reply = _of_type("xmtp.org/reply", "is_reply")
is_read_receipt = _of_type("xmtp.org/readReceipt", "is_read_receipt")
is_remote_attachment = _of_type("xmtp.org/remoteStaticAttachment", "is_remote_attachment")
is_multi_remote_attachment = _of_type("xmtp.org/multiRemoteStaticAttachment", "is_multi_remote_attachment")
is_attachment = _of_type("xmtp.org/attachment", "is_attachment")
is_transaction_reference = _of_type("xmtp.org/transactionReference", "is_transaction_reference")
is_wallet_send_calls = _of_type("xmtp.org/walletSendCalls", "is_wallet_send_calls")
is_group_updated = _of_type("xmtp.org/group_updated", "is_group_updated")
is_actions = _of_type("coinbase.com/actions", "is_actions")
is_intent = _of_type("coinbase.com/intent", "is_intent")
is_leave_request = _of_type("xmtp.org/leave_request", "is_leave_request")


def _is_text_reply(ctx: Any) -> bool:
    if _type_id(ctx) != "xmtp.org/reply":
        return False
    inner = getattr(ctx.message.content, "content", None)
    inner_type = getattr(inner, "type", None)
    return getattr(inner_type, "authority_id", "") == "xmtp.org" and getattr(inner_type, "type_id", "") == "text"


is_text_reply = Filter(_is_text_reply, "is_text_reply")


def text(*values: str, ignore_case: bool = False) -> Filter:
    """The message is exactly one of ``values``."""
    wanted = {v.casefold() for v in values} if ignore_case else set(values)

    def check(ctx: Any) -> bool:
        t = _text(ctx)
        return t is not None and (t.casefold() if ignore_case else t) in wanted

    return Filter(check, f"text{values!r}")


def regex(pattern: str, flags: int = 0) -> Filter:
    """The text matches ``pattern`` (searched); the match is on ``ctx.match``."""
    compiled = re.compile(pattern, flags)

    def check(ctx: Any) -> bool:
        t = _text(ctx)
        found = compiled.search(t) if t is not None else None
        if found is not None:
            ctx.match = found
        return found is not None

    return Filter(check, f"regex({pattern!r})")


def command(*names: str, prefix: str = "/") -> Filter:
    """The text is ``/name`` or ``/name args``; the words after it are on ``ctx.args``."""
    wanted = set(names)

    def check(ctx: Any) -> bool:
        t = _text(ctx)
        if t is None or not t.startswith(prefix):
            return False
        words = t[len(prefix) :].split()
        if not words or words[0] not in wanted:
            return False
        ctx.args = words[1:]
        return True

    return Filter(check, f"command{names!r}")
