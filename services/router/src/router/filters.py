"""Filters: predicates on a context that compose with `&`, `|` and `~` (aiogram-style), sync or async.

@agent.on("text", filters.command("help") & filters.is_dm)
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any


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


from_self = Filter(lambda ctx: bool(getattr(ctx.message, "is_own", False)), "from_self")
is_dm = Filter(lambda ctx: ctx.conversation.is_dm, "is_dm")
is_group = Filter(lambda ctx: ctx.conversation.is_group, "is_group")
is_text = Filter(lambda ctx: _text(ctx) is not None, "is_text")


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
