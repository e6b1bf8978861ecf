"""Helpers shared by the conformance handlers: hex decoding and byte comparison with a readable failure."""

from __future__ import annotations


def h(value: str | None) -> bytes:
    """Decode a test-vector hex string (``None`` and "" give empty bytes)."""
    return bytes.fromhex(value) if value else b""


class Mismatch(AssertionError):
    """A computed value differs from the test vector."""


def check(what: str, got: object, want: object) -> None:
    if got != want:
        raise Mismatch(f"{what}: got {_show(got)}, want {_show(want)}")


def _show(value: object) -> str:
    if isinstance(value, bytes):
        text = value.hex()
        return text if len(text) <= 80 else text[:77] + "..."
    return repr(value)
