"""XMTP's per-client request limits, so tests see what the network would answer: per rolling 5 minutes, 3,000
writes (messages, welcomes, commits, key packages, identity updates) and 20,000 reads (queries of messages,
welcomes, key packages, inbox ids and identity state); past them a call gets RESOURCE_EXHAUSTED (the network's
429), which the node client reads as `NodeUnavailable`: retry later.

Off unless configured (raw benchmarks must not be throttled): `DEVNODE_RATE_LIMITS=1` turns on the network's
figures, `DEVNODE_WRITES_PER_WINDOW` / `DEVNODE_READS_PER_WINDOW` / `DEVNODE_RATE_WINDOW_S` change them, or
`start(rate_limits=RateLimits(...))`. Subscriptions are not counted: streaming is how a client reads without
polling. A client is a connection's peer address (devnode has no client authentication); at most
`MAX_CLIENTS` are tracked, the longest idle forgotten first.

The window is rolling, counted in `BUCKETS` slices: O(1) time and memory per call and per client. A refusal
carries a `retry-after` trailer: the seconds until the window has room again (the node client reads it as
`NodeError.retry_after_s`).

Counters (for tests and benchmarks, also with no limit set: `RateLimits(writes=None, reads=None)` counts and
refuses nothing): `counted` and `refused` per kind, `methods` per method, and `tally()` per client and kind
since it was first seen.
"""

from __future__ import annotations

import os
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import grpc

WRITES: Final = frozenset(
    {
        "SendGroupMessages",
        "SendWelcomeMessages",
        "UploadKeyPackage",
        "RegisterInstallation",
        "BatchPublishCommitLog",
        "RevokeInstallation",
        "PublishIdentityUpdate",
    }
)
READS: Final = frozenset(
    {
        "FetchKeyPackages",
        "QueryGroupMessages",
        "QueryWelcomeMessages",
        "GetNewestGroupMessage",
        "BatchQueryCommitLog",
        "GetIdentityUpdates",
        "GetInboxIds",
        "VerifySmartContractWalletSignatures",
    }
)
BUCKETS: Final = 30
MAX_CLIENTS: Final = 10_000
RETRY_AFTER_KEY: Final = "retry-after"  # what xmtp_core.node.errors reads


@dataclass(frozen=True)
class RateLimits:
    """How many writes and reads one client may make per rolling window (None: that kind is not limited)."""

    writes: int | None = 3000
    reads: int | None = 20000
    window_s: float = 300.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> RateLimits | None:
        """The limits the environment asks for, None when it asks for none (the default)."""
        env = dict(os.environ) if env is None else env
        names = ("DEVNODE_WRITES_PER_WINDOW", "DEVNODE_READS_PER_WINDOW", "DEVNODE_RATE_WINDOW_S")
        if env.get("DEVNODE_RATE_LIMITS", "") not in ("1", "true", "on") and not any(env.get(n) for n in names):
            return None
        base = cls()
        return cls(
            writes=int(env["DEVNODE_WRITES_PER_WINDOW"]) if env.get(names[0]) else base.writes,
            reads=int(env["DEVNODE_READS_PER_WINDOW"]) if env.get(names[1]) else base.reads,
            window_s=float(env["DEVNODE_RATE_WINDOW_S"]) if env.get(names[2]) else base.window_s,
        )


@dataclass
class _Window:
    """Counts per slice of the window; `start` is the index of the slice counts[0] is for."""

    counts: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    start: int = 0
    total: int = 0
    calls: int = 0  # allowed since the client was first seen
    refused: int = 0

    def advance(self, now_slice: int) -> None:
        gone = now_slice - (self.start + BUCKETS - 1)
        if gone <= 0:
            return
        if gone >= BUCKETS:
            self.counts, self.total = [0] * BUCKETS, 0
        else:
            self.total -= sum(self.counts[:gone])
            self.counts = self.counts[gone:] + [0] * gone
        self.start = now_slice - BUCKETS + 1


class RateLimiter:
    """Counts calls per client and kind; `allow` says whether one more fits in the rolling window."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._slice_s = limits.window_s / BUCKETS
        self._clients: OrderedDict[tuple[str, str], _Window] = OrderedDict()
        self.counted = {"write": 0, "read": 0}
        self.refused = {"write": 0, "read": 0}
        self.methods: Counter[str] = Counter()  # counted calls by method (bounded: WRITES | READS)

    def allow(self, client: str, kind: str) -> bool:
        limit = self._limit(kind)
        window = self._window(client, kind)
        now_slice = self._slice()
        window.advance(now_slice)
        if limit is not None and window.total >= limit:
            self.refused[kind] += 1
            window.refused += 1
            return False
        window.counts[now_slice - window.start] += 1
        window.total += 1
        window.calls += 1
        self.counted[kind] += 1
        return True

    def retry_after(self, client: str, kind: str) -> float:
        """Seconds until `client` may make one more call of `kind` (0 when it may now)."""
        limit = self._limit(kind)
        window = self._clients.get((client[:128], kind))
        if limit is None or window is None:
            return 0.0
        window.advance(self._slice())
        excess = window.total - limit + 1  # calls that must leave the window first
        for index, count in enumerate(window.counts):
            excess -= count
            if excess <= 0:  # slice `index` leaves when slice start + index + BUCKETS begins
                return max(0.0, (window.start + index + BUCKETS) * self._slice_s - self._clock())
        return 0.0

    def tally(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(client, kind) -> (calls allowed, calls refused) since the client was first seen (while tracked)."""
        return {key: (w.calls, w.refused) for key, w in self._clients.items()}

    def _limit(self, kind: str) -> int | None:
        return self.limits.writes if kind == "write" else self.limits.reads

    def _window(self, client: str, kind: str) -> _Window:
        key = (client[:128], kind)
        window = self._clients.pop(key, None) or _Window(start=self._slice() - BUCKETS + 1)
        self._clients[key] = window  # most recently used last
        while len(self._clients) > MAX_CLIENTS:
            self._clients.popitem(last=False)
        return window

    def _slice(self) -> int:
        return int(self._clock() // self._slice_s)


class Limited:
    """A servicer whose counted unary methods first ask the limiter (the gRPC and gRPC-web servers both take it)."""

    def __init__(self, servicer: Any, limiter: RateLimiter) -> None:
        self._servicer = servicer
        self._limiter = limiter

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._servicer, name)
        kind = "write" if name in WRITES else "read" if name in READS else None
        if kind is None:
            return method
        limiter = self._limiter

        async def limited(request: Any, context: Any) -> Any:
            peer = str(context.peer())
            limiter.methods[name] += 1
            if not limiter.allow(peer, kind):
                window = limiter.limits.window_s
                trailers = getattr(context, "set_trailing_metadata", None)  # gRPC-web's context has none
                if trailers is not None:
                    trailers(((RETRY_AFTER_KEY, f"{limiter.retry_after(peer, kind):.3f}"),))
                await context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED, f"{kind} limit per {window:.0f}s reached: retry later"
                )
            return await method(request, context)

        return limited
