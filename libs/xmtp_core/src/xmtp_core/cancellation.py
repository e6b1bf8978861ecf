"""Cancellation that libraries lose, found again.

Python 3.11's `asyncio.wait_for` returns the result, instead of raising, when a cancellation arrives in the loop
turn its awaited future completes (fixed in 3.12), and nats-py awaits through it in every request, KV put and
pull fetch; some of its calls also turn a cancellation into a timeout or a connection error. The task keeps its
cancel request (`Task.cancelling()` stays above zero), so a loop that checks after such a call stops as asked
instead of waiting for ever on its next await (ingest's stop hung so, about one test run in four). Our own code
uses `asyncio.timeout`, which does not lose cancellations (ruff bans `asyncio.wait_for` in product code).
"""

from __future__ import annotations

import asyncio

__all__ = ["raise_if_cancelling"]


def raise_if_cancelling() -> None:
    """Raise `CancelledError` when the current task has a cancel request that a library call swallowed."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
