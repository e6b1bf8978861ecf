"""In-process live fan-out of newly committed rows to stream subscribers (single devnode process).

The single writer of each table (`devnode.node.OrderedWriter`) publishes rows after their transaction
commits, so rows reach every subscription queue in id order. A subscription is registered *before* its replay query,
so any row committed after registration is queued, and any row committed before it is in the replay; the
stream's per-topic high-water mark drops what it already sent.

Every queue is bounded (rows and payload bytes per subscriber, and payload bytes over all subscribers of the
broker), and so are the subscriptions (per client connection and in total). A subscriber that falls behind
further than its queue holds is cut off: its queue is emptied at once and its stream ends with
RESOURCE_EXHAUSTED, and the client resubscribes from the last id it received (`devnode.streams`). A slow
reader therefore never makes the node hold more than the bounds, however much is published.

Not shared between processes: a second devnode on the same database would not see these wake-ups.
"""

from __future__ import annotations

import asyncio
import enum
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from devnode.limits import (
    MAX_BROKER_QUEUED_BYTES,
    MAX_SUBSCRIBER_QUEUED_BYTES,
    MAX_SUBSCRIBER_QUEUED_ROWS,
    MAX_SUBSCRIPTIONS,
    MAX_SUBSCRIPTIONS_PER_PEER,
)


class Topical(Protocol):
    """What the broker needs of a row: its id, its topic (group id or installation key) and payload size."""

    @property
    def id(self) -> int: ...

    @property
    def topic(self) -> bytes: ...

    @property
    def size(self) -> int: ...


RowT = TypeVar("RowT", bound=Topical)


class Signal(enum.Enum):
    """What a subscription's queue says besides rows."""

    TOO_SLOW = "too_slow"  # the subscriber fell further behind than its queue holds: end the stream
    CLOSED = "closed"  # the node is shutting down: end the stream


class SubscriptionRefused(Exception):
    """The node holds as many subscriptions as it allows (per connection or in total)."""


@dataclass(frozen=True)
class BrokerLimits:
    """Bounds of one broker; the defaults are `devnode.limits`."""

    max_queue: int = MAX_SUBSCRIBER_QUEUED_ROWS
    max_bytes: int = MAX_SUBSCRIBER_QUEUED_BYTES
    max_total_bytes: int = MAX_BROKER_QUEUED_BYTES
    max_subscriptions: int = MAX_SUBSCRIPTIONS
    max_per_peer: int = MAX_SUBSCRIPTIONS_PER_PEER


class Subscription(Generic[RowT]):
    """One stream's inbox of live rows for a fixed set of topics."""

    def __init__(self, broker: Broker[RowT], topics: frozenset[bytes], peer: str) -> None:
        self._broker = broker
        self.topics = topics
        self.peer = peer
        self._queue: asyncio.Queue[RowT | Signal] = asyncio.Queue()
        self.queued_bytes = 0
        self._ended = False
        self._registered = False

    def deliver(self, row: RowT) -> None:
        if self._ended:
            return
        limits = self._broker.limits
        queued = self._queue.qsize()
        # Bounded by count and by payload bytes (one row, however big, always fits an empty queue).
        if queued >= limits.max_queue or (queued and self.queued_bytes + row.size > limits.max_bytes):
            self.end(Signal.TOO_SLOW)
            return
        self._add_bytes(row.size)
        self._queue.put_nowait(row)

    def end(self, signal: Signal) -> None:
        """Empty the queue now (its memory is released at once) and leave only `signal` for the stream."""
        if self._ended:
            return
        self._ended = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._add_bytes(-self.queued_bytes)
        self._queue.put_nowait(signal)

    def _add_bytes(self, delta: int) -> None:
        self.queued_bytes += delta
        self._broker.queued_bytes += delta

    def _taken(self, item: RowT | Signal) -> RowT | Signal:
        if not isinstance(item, Signal):
            self._add_bytes(-item.size)
        return item

    async def get(self) -> RowT | Signal:
        return self._taken(await self._queue.get())

    def get_ready(self) -> list[RowT | Signal]:
        """Everything already queued, without waiting (lets a stream batch its writes)."""
        items: list[RowT | Signal] = []
        while not self._queue.empty():
            items.append(self._taken(self._queue.get_nowait()))
        return items

    def close(self) -> None:
        """Unregister (idempotent); a stream calls it when it ends, however it ends."""
        if self._registered:
            self._registered = False
            self._broker.unsubscribe(self)
        self.end(Signal.CLOSED)


class Broker(Generic[RowT]):
    """Topic → subscriptions index for one kind of row (group messages or welcomes)."""

    def __init__(self, limits: BrokerLimits | None = None) -> None:
        self.limits = limits or BrokerLimits()
        self._by_topic: dict[bytes, set[Subscription[RowT]]] = defaultdict(set)
        self._all: set[Subscription[RowT]] = set()
        self._per_peer: Counter[str] = Counter()
        self.queued_bytes = 0
        self._closed = False

    def subscribe(self, topics: Iterable[bytes], peer: str = "") -> Subscription[RowT]:
        """Register a subscription, or `SubscriptionRefused` when the connection or the node has its fill."""
        sub = Subscription(self, frozenset(topics), peer)
        if self._closed:
            # Shutting down: a stream that arrives now replays what it can and then ends at once.
            sub.end(Signal.CLOSED)
            return sub
        if len(self._all) >= self.limits.max_subscriptions:
            raise SubscriptionRefused(f"the node holds {len(self._all)} subscriptions, its limit")
        if self._per_peer[peer] >= self.limits.max_per_peer:
            raise SubscriptionRefused(f"this connection holds {self._per_peer[peer]} subscriptions, its limit")
        for topic in sub.topics:
            self._by_topic[topic].add(sub)
        self._all.add(sub)
        self._per_peer[peer] += 1
        sub._registered = True
        return sub

    def unsubscribe(self, sub: Subscription[RowT]) -> None:
        if sub not in self._all:
            return
        self._all.discard(sub)
        self._per_peer[sub.peer] -= 1
        if self._per_peer[sub.peer] <= 0:
            del self._per_peer[sub.peer]
        for topic in sub.topics:
            subs = self._by_topic.get(topic)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_topic[topic]

    def publish(self, rows: Sequence[RowT]) -> None:
        """Hand committed rows (ascending id) to every subscription of their topic."""
        for row in rows:
            for sub in self._by_topic.get(row.topic, ()):
                sub.deliver(row)
            if self.queued_bytes > self.limits.max_total_bytes:
                self._shed()

    def _shed(self) -> None:
        # Over the node-wide budget: cut off the subscribers that hold the most until it fits again (they
        # are the furthest behind; a subscriber that keeps up holds next to nothing).
        for sub in sorted(self._all, key=lambda s: s.queued_bytes, reverse=True):
            if self.queued_bytes <= self.limits.max_total_bytes:
                return
            sub.end(Signal.TOO_SLOW)

    def close_all(self) -> None:
        self._closed = True
        for sub in list(self._all):
            sub.end(Signal.CLOSED)

    @property
    def subscriber_count(self) -> int:
        return len(self._all)
