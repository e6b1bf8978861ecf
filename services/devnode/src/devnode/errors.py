"""Errors devnode raises for bad client input; the gRPC layer maps them to INVALID_ARGUMENT."""

from __future__ import annotations


class InvalidInput(ValueError):
    """The request (or a payload inside it) is malformed or breaks a limit; nothing was stored."""
