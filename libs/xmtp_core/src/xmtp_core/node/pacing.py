"""Pacing node calls under XMTP's per-client rate limits: per rolling 5 minutes, 3,000 writes (messages,
welcomes, commits, key packages, identity updates) and 20,000 reads; past them the network answers
RESOURCE_EXHAUSTED (its 429).

`RollingWindow` is the pure rule: the last `limit` grants are kept, and grant n + limit may not come before grant
n + `window_s` + `margin_s`, so any interval of `window_s` (seen by the server, whose receive times lag ours by
at most `margin_s` more for one call than for another) holds at most `limit` calls. That is exact, not a token
bucket that trades some of the rate for its burst: a steady load at the limit goes through at limit /
(window + margin), a burst of `limit` goes at once and the rest waits. Memory is `limit` floats per key.

`Pacer` is the async gate in front of one installation's calls (`await pacer.acquire()` before each attempt,
FIFO among the waiters); `hold(seconds)` stops it for a while after the server said 429 anyway (its hint).
`Pacers` keeps one pacer per installation. The pacer delays, it never drops: a caller waits as long as it takes.

Several processes writing for one installation share the limit by `share`: each paces at `limit // share`
(set `share` to the number of replicas that write for it, e.g. `SB_WRITE_SHARE=2` beside two publisher
replicas). A process restarted within a window does not know what its predecessor wrote: a 429 can then
happen, and the caller retries it after the server's hint (the publisher does, in place, never dropping it).

Limits come from the environment (`PacingEnvSettings`: `SB_WRITES_PER_WINDOW`, `SB_READS_PER_WINDOW`,
`SB_RATE_WINDOW_S`, `SB_RATE_MARGIN_S`, `SB_WRITE_SHARE`; `SB_PACING=0` turns pacing off); the defaults are
the network's.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

NETWORK_WRITES = 3000
NETWORK_READS = 20000
NETWORK_WINDOW_S = 300.0
# The longest call latency difference the window allows for (the server counts arrival times, we count grants).
MIN_MARGIN_S = 0.5
MARGIN_SHARE = 0.01
MAX_PACED_KEYS = 10_000  # installations one process paces; the least recently used go first past it


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` calls in any `window_s`; `margin_s` widens our window for latency skew."""

    limit: int
    window_s: float
    margin_s: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_s <= 0 or self.margin_s < 0:
            raise ValueError("need limit >= 1, window_s > 0 and margin_s >= 0")

    @classmethod
    def of(cls, limit: int, window_s: float, share: int = 1, margin_s: float | None = None) -> RateLimit:
        """`limit` per `window_s` split `share` ways; the margin defaults to 1% of the window (at least 0.5 s)."""
        margin = max(MIN_MARGIN_S, MARGIN_SHARE * window_s) if margin_s is None else margin_s
        return cls(max(1, limit // max(1, share)), window_s, margin)

    @property
    def rate(self) -> float:
        """Calls per second a steady load gets through at."""
        return self.limit / (self.window_s + self.margin_s)


@dataclass(frozen=True)
class PacingConfig:
    """The write and read limits one process paces at (None: not paced)."""

    writes: RateLimit | None
    reads: RateLimit | None


class PacingEnvSettings(BaseSettings):
    """The environment edge of `PacingConfig`."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    enabled: bool = Field(default=True, validation_alias="SB_PACING")
    writes: int = Field(default=NETWORK_WRITES, ge=1, validation_alias="SB_WRITES_PER_WINDOW")
    reads: int = Field(default=NETWORK_READS, ge=1, validation_alias="SB_READS_PER_WINDOW")
    window_s: float = Field(default=NETWORK_WINDOW_S, gt=0, validation_alias="SB_RATE_WINDOW_S")
    margin_s: float | None = Field(default=None, ge=0, validation_alias="SB_RATE_MARGIN_S")
    share: int = Field(default=1, ge=1, validation_alias="SB_WRITE_SHARE")

    def to_config(self) -> PacingConfig:
        if not self.enabled:
            return PacingConfig(None, None)
        return PacingConfig(
            RateLimit.of(self.writes, self.window_s, self.share, self.margin_s),
            RateLimit.of(self.reads, self.window_s, self.share, self.margin_s),
        )


class RollingWindow:
    """The grant times of the last `limit` calls; `next_at` is when one more may go."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._grants: deque[float] = deque(maxlen=limit.limit)

    def next_at(self, now: float) -> float:
        if len(self._grants) < self.limit.limit:
            return now
        return max(now, self._grants[0] + self.limit.window_s + self.limit.margin_s)

    def grant(self, now: float) -> None:
        self._grants.append(now)


class Pacer:
    """The gate in front of one installation's calls of one kind. `on_wait(seconds)` hears every wait."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.window = RollingWindow(limit)
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait
        self._held_until = 0.0
        self._lock = asyncio.Lock()  # FIFO: waiters go in the order they came
        self.waited_s = 0.0

    async def acquire(self) -> float:
        """Wait until one more call fits (and any hold is over), take it, and return the seconds waited."""
        async with self._lock:
            waited = 0.0
            while True:
                now = self._clock()
                ready = self.window.next_at(max(now, self._held_until))
                if ready <= now:
                    self.window.grant(now)
                    break
                await self._sleep(ready - now)
                waited += self._clock() - now
        if waited:
            self.waited_s += waited
            if self._on_wait is not None:
                self._on_wait(waited)
        return waited

    def hold(self, seconds: float) -> None:
        """No call before `seconds` from now (the server's retry hint after a 429)."""
        self._held_until = max(self._held_until, self._clock() + max(0.0, seconds))


class Pacers:
    """One `Pacer` per key (an installation); None when pacing is off. At most `MAX_PACED_KEYS` are kept."""

    def __init__(
        self,
        limit: RateLimit | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_wait: Callable[[str, float], None] | None = None,
        max_keys: int = MAX_PACED_KEYS,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._on_wait = on_wait
        self._max_keys = max_keys
        self._pacers: OrderedDict[str, Pacer] = OrderedDict()

    def get(self, key: str) -> Pacer | None:
        if self.limit is None:
            return None
        pacer = self._pacers.pop(key, None) or self._new(key, self.limit)
        self._pacers[key] = pacer  # most recently used last
        while len(self._pacers) > self._max_keys:
            self._pacers.popitem(last=False)
        return pacer

    def _new(self, key: str, limit: RateLimit) -> Pacer:
        on_wait = self._on_wait
        hear = (lambda s: on_wait(key, s)) if on_wait is not None else None
        return Pacer(limit, clock=self._clock, sleep=self._sleep, on_wait=hear)

    def __len__(self) -> int:
        return len(self._pacers)
