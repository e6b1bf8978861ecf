"""Attacker-chosen text made safe to keep: the one place that bounds and cleans bytes or strings from the
network before they reach a database column, a log line, an exception message or a span.

Postgres refuses NUL in text columns, log readers split on newlines, and an unbounded string is a cost the
sender chooses; so every such value passes through :func:`clean` first. A leaf module: it imports nothing."""

from __future__ import annotations

DETAIL_LIMIT = 200  # characters kept of an attacker-chosen detail (a rejection reason, an error's argument)
FIELD_LIMIT = 256  # characters kept of a short identifier-like field (a content-type authority, an inbox id)

_ELLIPSIS = "…"


def _safe(ch: str) -> str:
    # Control characters (C0, DEL, C1) and the Unicode line/paragraph separators become one visible mark, so a
    # value cannot forge a log line, hide a NUL from Postgres or reorder a terminal.
    code = ord(ch)
    if code < 0x20 or 0x7F <= code < 0xA0 or ch in "\u2028\u2029":
        return "\ufffd"
    if 0xD800 <= code < 0xE000:  # a lone surrogate (from `surrogateescape` decoding) cannot be encoded as UTF-8
        return "\ufffd"
    return ch


def clean(value: object, limit: int = DETAIL_LIMIT) -> str:
    """``value`` as printable text of at most ``limit`` characters: bytes are decoded as UTF-8 (invalid
    sequences replaced), control characters replaced, and an over-long value cut with an ellipsis. Work is
    bounded by ``limit``, not by the size of ``value`` (only a prefix is looked at)."""
    if isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value[: limit * 4 + 4]).decode("utf-8", errors="replace")
        truncated = len(value) > limit * 4 + 4
    else:
        raw = value if isinstance(value, str) else _bounded_str(value, limit)
        text, truncated = raw[: limit + 1], len(raw) > limit + 1
    out = "".join(_safe(ch) for ch in text[:limit])
    if truncated or len(text) > limit:
        return out[: max(limit - 1, 0)] + _ELLIPSIS
    return out


def _bounded_str(value: object, limit: int) -> str:
    try:
        return str(value)[: limit + 1]
    except Exception:  # a hostile object's __str__ must not stop the caller
        return f"<unprintable {type(value).__name__}>"


def clean_error(exc: BaseException, limit: int = DETAIL_LIMIT) -> str:
    """An exception as ``Type: message``, cleaned: for rejection details built from errors that may quote
    attacker bytes."""
    return clean(f"{type(exc).__name__}: {_bounded_str(exc, limit)}", limit)
