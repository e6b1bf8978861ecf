"""Many readers on few node streams: `SharedSubscriptions` puts every reader's topics on shared `Subscription`s.

A node holds few streams per connection (devnode: 64 per kind) but many topics per stream (a filter of up to
10,000), so a process following many installations or conversations opens one stream per kind and shard, not
one per reader, as libxmtp's `streamAllMessages` does. Each `reader()` behaves like a `Subscription` of its own
topics: ascending per topic, nothing at or below its own cursor, `add` at any time, `aclose`.

Invariants:
- A shard follows the union of its readers' topics, each from the lowest cursor a reader asked for: a reader
  that joins behind the shard rewinds that topic (the stream re-opens), readers ahead drop what they saw.
- A topic lives on one shard; a shard holds at most `max_topics`; a topic no reader follows is removed, and a
  shard with no topic left is closed.
- Every reader's buffer is bounded: a full buffer holds its shard's pump (backpressure on all who share it),
  and closing a reader releases a pump held by it.
- A shard whose stream fails for good hands the error to every reader on it and is dropped; the next reader
  to follow those topics gets a new shard.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic

from xmtp_core.node.errors import NodeUnavailable
from xmtp_core.node.subscription import EnvelopeT, Subscription

MAX_TOPICS_PER_STREAM = 10_000  # the node's cap on one subscription's filter
READER_BUFFER = 256

OpenSubscription = Callable[[Mapping[bytes, int]], Subscription[EnvelopeT]]


@dataclass(eq=False)
class _Shard(Generic[EnvelopeT]):
    subscription: Subscription[EnvelopeT]
    topics: set[bytes] = field(default_factory=set)
    pump: asyncio.Task[None] | None = None


class SharedReader(Generic[EnvelopeT]):
    """One reader's view of a `SharedSubscriptions`: its own topics and cursors, iterated like a `Subscription`."""

    def __init__(self, hub: SharedSubscriptions[EnvelopeT], buffer: int) -> None:
        self._hub = hub
        self._cursors: dict[bytes, int] = {}
        self._buffer: deque[EnvelopeT] = deque()
        self._size = buffer
        self._reader: asyncio.Future[None] | None = None  # the iterating task, waiting for an item
        self._pumps: list[asyncio.Future[None]] = []  # pumps waiting for room in the buffer
        self._error: BaseException | None = None
        self._closed = False

    @property
    def cursors(self) -> dict[bytes, int]:
        """Each topic's last id handed to this reader's buffer (or its starting cursor)."""
        return dict(self._cursors)

    def add(self, topic: bytes, cursor: int = 0) -> None:
        """Start following `topic` after `cursor`; a topic already followed keeps its own cursor."""
        if self._closed or topic in self._cursors:
            return
        if cursor < 0:
            raise ValueError(f"a cursor must be >= 0, got {cursor}")
        self._cursors[topic] = cursor
        self._hub._follow(self, topic, cursor)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._hub._leave(self)
        self._buffer.clear()
        self._wake_reader()
        self._wake_pumps()  # a pump waiting for room here goes on

    async def __aenter__(self) -> SharedReader[EnvelopeT]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __aiter__(self) -> SharedReader[EnvelopeT]:
        return self

    async def __anext__(self) -> EnvelopeT:
        while True:
            if self._closed:
                raise StopAsyncIteration
            if self._buffer:
                item = self._buffer.popleft()
                self._wake_pumps()
                return item
            if self._error is not None:
                raise self._error
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None

    # --- called by the hub's pumps ---

    def _accepts(self, item: EnvelopeT) -> bool:
        cursor = self._cursors.get(item.topic)
        if self._closed or cursor is None or item.id <= cursor:
            return False
        self._cursors[item.topic] = item.id
        return True

    async def _put(self, item: EnvelopeT) -> None:
        while len(self._buffer) >= self._size and not self._closed:
            room = asyncio.get_running_loop().create_future()
            self._pumps.append(room)
            try:
                await room
            finally:
                with contextlib.suppress(ValueError):
                    self._pumps.remove(room)
        if not self._closed:
            self._buffer.append(item)
            self._wake_reader()

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._wake_reader()

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _wake_pumps(self) -> None:
        for room in self._pumps:
            if not room.done():
                room.set_result(None)


class SharedSubscriptions(Generic[EnvelopeT]):
    """Readers' topics on shared node subscriptions opened by `open_subscription` (one per `max_topics`)."""

    def __init__(
        self,
        open_subscription: OpenSubscription[EnvelopeT],
        *,
        max_topics: int = MAX_TOPICS_PER_STREAM,
        buffer: int = READER_BUFFER,
    ) -> None:
        if max_topics < 1 or buffer < 1:
            raise ValueError("max_topics and buffer must be >= 1")
        self._open = open_subscription
        self._max_topics = max_topics
        self._buffer = buffer
        self._shards: list[_Shard[EnvelopeT]] = []
        self._shard_of: dict[bytes, _Shard[EnvelopeT]] = {}
        self._readers: dict[bytes, set[SharedReader[EnvelopeT]]] = {}

    @property
    def streams(self) -> int:
        """Node streams open now (one per shard)."""
        return len(self._shards)

    def reader(self, cursors: Mapping[bytes, int] | None = None) -> SharedReader[EnvelopeT]:
        reader = SharedReader(self, self._buffer)
        for topic, cursor in (cursors or {}).items():
            reader.add(topic, cursor)
        return reader

    async def aclose(self) -> None:
        """Close every shard; readers see the end of their iteration only when closed themselves."""
        pumps = [shard.pump for shard in self._shards if shard.pump is not None]
        for shard in list(self._shards):
            self._close(shard)
        await asyncio.gather(*pumps, return_exceptions=True)

    # --- readers' topic changes ---

    def _follow(self, reader: SharedReader[EnvelopeT], topic: bytes, cursor: int) -> None:
        self._readers.setdefault(topic, set()).add(reader)
        shard = self._shard_of.get(topic)
        if shard is None:
            shard = self._shard_with_room()
            shard.topics.add(topic)
            self._shard_of[topic] = shard
        shard.subscription.rewind(topic, cursor)

    def _leave(self, reader: SharedReader[EnvelopeT]) -> None:
        for topic in reader._cursors:
            readers = self._readers.get(topic)
            if readers is None:
                continue
            readers.discard(reader)
            if readers:
                continue
            del self._readers[topic]
            shard = self._shard_of.pop(topic, None)
            if shard is None:
                continue
            shard.topics.discard(topic)
            shard.subscription.remove(topic)
            if not shard.topics:
                self._close(shard)

    # --- shards ---

    def _shard_with_room(self) -> _Shard[EnvelopeT]:
        for shard in self._shards:
            if len(shard.topics) < self._max_topics:
                return shard
        shard = _Shard(self._open({}))
        self._shards.append(shard)
        shard.pump = asyncio.create_task(self._pump(shard), name="shared-subscription")
        return shard

    def _close(self, shard: _Shard[EnvelopeT]) -> None:
        if shard in self._shards:
            self._shards.remove(shard)
        if shard.pump is not None:
            shard.pump.cancel()

    async def _pump(self, shard: _Shard[EnvelopeT]) -> None:
        try:
            async for item in shard.subscription:
                for reader in list(self._readers.get(item.topic, ())):
                    if reader._accepts(item):
                        await reader._put(item)
            self._drop(shard, NodeUnavailable("subscribe", "the shared stream ended"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._drop(shard, exc)
        finally:
            await shard.subscription.aclose()

    def _drop(self, shard: _Shard[EnvelopeT], error: BaseException) -> None:
        """A shard that failed for good: its readers get the error; their topics go to a new shard if re-added."""
        if shard not in self._shards:
            return  # closed on purpose
        self._shards.remove(shard)
        for topic in shard.topics:
            if self._shard_of.get(topic) is shard:
                del self._shard_of[topic]
            for reader in self._readers.pop(topic, ()):
                reader._fail(error)
        shard.topics.clear()
