"""In-process live fan-out of newly committed rows to stream subscribers (single devnode process).

The single writer of each table (`devnode.node.OrderedWriter`) publishes rows after their transaction
commits, so rows reach every subscription queue in id order. A subscription is registered *before* its replay query,
so any row committed after registration is queued, and any row committed before it is in the replay; the
stream's per-topic high-water mark drops what it already sent. A subscriber whose queue overflows is
marked lagged and catches up from the database instead (see `devnode.streams`).

Not shared between processes: a second devnode on the same database would not see these wake-ups.
"""

from __future__ import annotations

import asyncio
import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Generic, Protocol, TypeVar


class Topical(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def topic(self) -> bytes: ...

    @property
    def size(self) -> int: ...


RowT = TypeVar("RowT", bound=Topical)


class Signal(enum.Enum):
    LAGGED = "lagged"  # the queue overflowed: re-read from the database from the high-water marks
    CLOSED = "closed"  # the node is shutting down: end the stream


class Subscription(Generic[RowT]):
    """One stream's inbox of live rows for a fixed set of topics."""

    def __init__(self, broker: Broker[RowT], topics: frozenset[bytes], max_queue: int, max_bytes: int) -> None:
        self._broker = broker
        self.topics = topics
        self._queue: asyncio.Queue[RowT | Signal] = asyncio.Queue()
        self._max_queue = max_queue
        self._max_bytes = max_bytes
        self._queued_bytes = 0
        self._lagged = False

    def deliver(self, row: RowT) -> None:
        if self._lagged:
            return
        queued = self._queue.qsize()
        # Bounded by count and by payload bytes (one row, however big, always fits an empty queue).
        if queued >= self._max_queue or (queued and self._queued_bytes + row.size > self._max_bytes):
            self._lagged = True
            self._drain()
            self._queue.put_nowait(Signal.LAGGED)
            return
        self._queued_bytes += row.size
        self._queue.put_nowait(row)

    def close_stream(self) -> None:
        self._drain()
        self._queue.put_nowait(Signal.CLOSED)

    def _drain(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queued_bytes = 0

    def _taken(self, item: RowT | Signal) -> RowT | Signal:
        if not isinstance(item, Signal):
            self._queued_bytes -= item.size
        return item

    def resume(self) -> None:
        """Called by the stream right before it re-reads the database after LAGGED."""
        self._lagged = False

    async def get(self) -> RowT | Signal:
        return self._taken(await self._queue.get())

    def get_ready(self) -> list[RowT | Signal]:
        """Everything already queued, without waiting (lets a stream batch its writes)."""
        items: list[RowT | Signal] = []
        while not self._queue.empty():
            items.append(self._taken(self._queue.get_nowait()))
        return items

    def close(self) -> None:
        self._broker.unsubscribe(self)


class Broker(Generic[RowT]):
    """Topic → subscriptions index for one kind of row (group messages or welcomes)."""

    def __init__(self, max_queue: int = 4096, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._by_topic: dict[bytes, set[Subscription[RowT]]] = defaultdict(set)
        self._all: set[Subscription[RowT]] = set()
        self._max_queue = max_queue
        self._max_bytes = max_bytes
        self._closed = False

    def subscribe(self, topics: Iterable[bytes]) -> Subscription[RowT]:
        sub = Subscription(self, frozenset(topics), self._max_queue, self._max_bytes)
        if self._closed:
            # Shutting down: a stream that arrives now replays what it can and then ends at once.
            sub.close_stream()
            return sub
        for topic in sub.topics:
            self._by_topic[topic].add(sub)
        self._all.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription[RowT]) -> None:
        self._all.discard(sub)
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

    def close_all(self) -> None:
        self._closed = True
        for sub in list(self._all):
            sub.close_stream()

    @property
    def subscriber_count(self) -> int:
        return len(self._all)
