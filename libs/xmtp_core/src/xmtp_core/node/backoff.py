"""Retry pacing: a bounded, jittered exponential backoff with an injectable random source and sleep.

`BackoffPolicy` is the configuration (pure: `delay(attempt, rand)`); `Backoff` is the per-connection state that
counts consecutive failures, hands out the next delay and says when to give up; `retry` applies a policy to one
unary call, retrying only errors that say they are retryable.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from xmtp_core.node.errors import NodeError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Past this many doublings the delay is at its cap anyway; stopping here keeps the power from overflowing.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class BackoffPolicy:
    """Delay before retry n (0-based) is min(maximum_s, initial_s * multiplier**n), minus up to `jitter` of it.

    `max_retries` bounds the retries after consecutive failures (None retries forever). A connection that stayed up for
    `reset_after_s`, or delivered anything, resets the count.
    """

    initial_s: float = 0.5
    maximum_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    max_retries: int | None = None
    reset_after_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.maximum_s:
            raise ValueError("need 0 < initial_s <= maximum_s")
        if self.multiplier < 1:
            raise ValueError("multiplier must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be in [0, 1]")
        if self.max_retries is not None and self.max_retries < 1:
            raise ValueError("max_retries must be >= 1 or None")
        if self.reset_after_s < 0:
            raise ValueError("reset_after_s must be >= 0")

    def delay(self, attempt: int, rand: float) -> float:
        """The wait before retry `attempt`, with `rand` in [0, 1) drawn by the caller."""
        if attempt < 0:
            raise ValueError("attempt must be >= 0")
        base = min(self.maximum_s, self.initial_s * self.multiplier ** min(attempt, _MAX_EXPONENT))
        return base * (1.0 - self.jitter * rand)


@dataclass
class Backoff:
    """Consecutive-failure state for one reconnecting stream."""

    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    rand: Callable[[], float] = random.random
    failures: int = 0

    def next_delay(self) -> float | None:
        """Record a failure; the delay before the next attempt, or None when `max_retries` is used up."""
        if self.policy.max_retries is not None and self.failures >= self.policy.max_retries:
            return None
        delay = self.policy.delay(self.failures, self.rand())
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


async def retry(
    call: Callable[[], Awaitable[T]],
    policy: BackoffPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
) -> T:
    """Await `call()`; on a retryable `NodeError`, wait and try again until `policy.max_retries` is used up.

    Only safe for calls the node treats idempotently (it drops duplicate group messages and welcomes).
    """
    backoff = Backoff(policy, rand)
    while True:
        try:
            return await call()
        except NodeError as exc:
            delay = backoff.next_delay() if exc.retryable else None
            if delay is None:
                raise
            log.info("%s; retrying in %.2fs", exc, delay)
            await sleep(delay)
