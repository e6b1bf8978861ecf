"""Long-lived, resumable subscriptions to group topics or welcome topics (installation keys).

A `Subscription` is an async iterator over envelopes (anything with `topic` and `id`). It keeps the id of the
last envelope it yielded for each topic and opens every stream with those cursors, so after a reconnect or a
change of the topic set the node replays exactly what was not yet yielded. Anything at or below a topic's
cursor is dropped: nothing is yielded twice, nothing is skipped, and each topic comes out in ascending order.

Failures that may pass (`NodeError.retryable`, or the node ending the stream) reconnect after a jittered
exponential backoff; anything else ends the iteration with the error. `add` / `remove` / `set_topics` may be
called from any task while iterating: the current stream is cancelled and a new one opened with the new set
(so does `rewind`, which moves a topic's cursor back). Many readers share one stream through `multiplex`.
Sleep, clock and random source are injectable so the pacing can be tested without waiting.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from xmtp_core.node.backoff import Backoff, BackoffPolicy
from xmtp_core.node.errors import NodeError, NodeUnavailable

log = logging.getLogger(__name__)


class Envelope(Protocol):
    @property
    def topic(self) -> bytes: ...

    @property
    def id(self) -> int: ...


EnvelopeT = TypeVar("EnvelopeT", bound=Envelope)
EnvelopeT_co = TypeVar("EnvelopeT_co", bound=Envelope, covariant=True)


class TopicStream(Protocol[EnvelopeT_co]):
    """What a subscription reads from: `NodeClient.open_group_stream(...)` and `open_welcome_stream(...)` fit."""

    async def read(self) -> EnvelopeT_co | None: ...

    def cancel(self) -> None: ...


Opener = Callable[[Mapping[bytes, int]], TopicStream[EnvelopeT]]
Sleep = Callable[[float], Awaitable[None]]


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a discarded task's outcome as seen, so asyncio does not log 'exception never retrieved'."""
    if not task.cancelled():
        task.exception()


class Subscription(Generic[EnvelopeT]):
    """Envelopes of a changing set of topics, in ascending id order per topic, across reconnects."""

    def __init__(
        self,
        open_stream: Opener[EnvelopeT],
        cursors: Mapping[bytes, int] | None = None,
        *,
        backoff: BackoffPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._open_stream = open_stream
        self._cursors: dict[bytes, int] = {}
        for topic, cursor in (cursors or {}).items():
            self._cursors[_check_topic(topic)] = _check_cursor(cursor)
        self._backoff = Backoff(backoff or BackoffPolicy(), rand)
        self._sleep = sleep
        self._clock = clock
        self._stream: TopicStream[EnvelopeT] | None = None
        self._read: asyncio.Future[EnvelopeT | None] | None = None
        self._opened_at = 0.0
        self._stale = False  # the topic set changed since the current stream was opened
        self._closed = False
        self._busy = False
        self._wake = asyncio.Event()
        self.reconnects = 0  # streams re-opened after a failure or a node-side end (not topic changes)
        self.opens = 0  # every stream opened, for any reason

    # --- topic set ---

    @property
    def cursors(self) -> dict[bytes, int]:
        """Each topic's last yielded id (or starting cursor): what a caller persists to resume later."""
        return dict(self._cursors)

    def add(self, topic: bytes, cursor: int = 0) -> None:
        """Start following `topic` after `cursor`; a topic already followed keeps its own cursor."""
        if _check_topic(topic) in self._cursors:
            return
        self._cursors[topic] = _check_cursor(cursor)
        self._changed()

    def rewind(self, topic: bytes, cursor: int) -> None:
        """Follow `topic` from `cursor` when that is behind its own cursor (or it is new): later ids come again."""
        current = self._cursors.get(_check_topic(topic))
        if current is None or _check_cursor(cursor) < current:
            self._cursors[topic] = cursor
            self._changed()

    def remove(self, topic: bytes) -> None:
        if self._cursors.pop(topic, None) is not None:
            self._changed()

    def set_topics(self, cursors: Mapping[bytes, int]) -> None:
        """Follow exactly these topics; ones already followed keep their cursor, new ones start at the given one."""
        wanted = {_check_topic(t): _check_cursor(c) for t, c in cursors.items()}
        merged = {t: self._cursors.get(t, c) for t, c in wanted.items()}
        if merged != self._cursors:
            self._cursors = merged
            self._changed()

    def _changed(self) -> None:
        self._stale = True
        self._wake.set()

    # --- lifecycle ---

    async def aclose(self) -> None:
        """Stop: cancel the stream; a pending or later `__anext__` ends the iteration."""
        self._closed = True
        self._drop_stream()
        self._wake.set()

    async def __aenter__(self) -> Subscription[EnvelopeT]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __aiter__(self) -> Subscription[EnvelopeT]:
        return self

    async def __anext__(self) -> EnvelopeT:
        if self._busy:
            raise RuntimeError("a Subscription has one reader: __anext__ is already running in another task")
        self._busy = True
        try:
            return await self._next()
        finally:
            self._busy = False

    async def _next(self) -> EnvelopeT:
        while not self._closed:
            if self._stale:
                self._drop_stream()
            if self._stream is None and not await self._ensure_stream():
                continue
            if not await self._wait(self._pending_read()):
                continue  # woken by a topic change or close
            item = await self._finish_read()
            if item is not None:
                return item
        raise StopAsyncIteration

    # --- internals ---

    async def _ensure_stream(self) -> bool:
        """Open a stream for the current topics; False when there is nothing to follow yet (or we were woken)."""
        if not self._cursors:
            self._stale = False
            await self._wait(None)
            return False
        self._stale = False
        self._opened_at = self._clock()
        self.opens += 1
        try:
            self._stream = self._open_stream(dict(self._cursors))
        except NodeError as exc:
            await self._fail(exc)
            return False
        return True

    def _pending_read(self) -> asyncio.Future[EnvelopeT | None]:
        if self._read is None:
            assert self._stream is not None
            self._read = asyncio.ensure_future(self._stream.read())
        return self._read

    async def _finish_read(self) -> EnvelopeT | None:
        """Turn a finished read into the next envelope to yield, or None after handling a drop or a failure."""
        read, self._read = self._read, None
        assert read is not None
        try:
            item = read.result()
        except asyncio.CancelledError:
            await self._reconnect_later(None)
            return None
        except NodeError as exc:
            await self._fail(exc)
            return None
        if item is None:
            await self._reconnect_later(None)
            return None
        cursor = self._cursors.get(item.topic)
        if cursor is None or item.id <= cursor:
            return None  # a removed topic, or something already yielded
        self._cursors[item.topic] = item.id
        self._backoff.reset()
        return item

    async def _fail(self, error: NodeError) -> None:
        """Reconnect after a retryable error; close and raise anything else."""
        if not error.retryable:
            await self.aclose()
            raise error
        await self._reconnect_later(error)

    async def _reconnect_later(self, error: NodeError | None) -> None:
        lived = self._clock() - self._opened_at
        self._drop_stream()
        if lived >= self._backoff.policy.reset_after_s:
            self._backoff.reset()
        delay = self._backoff.next_delay()
        if delay is None:
            await self.aclose()
            raise error or NodeUnavailable("subscribe", "the node kept ending the stream; giving up")
        log.info("subscription stream lost (%s); reconnecting in %.2fs", error or "ended by the node", delay)
        self.reconnects += 1
        await self._wait(asyncio.ensure_future(self._sleep(delay)), cancel=True)

    async def _wait(self, future: asyncio.Future[Any] | None, *, cancel: bool = False) -> bool:
        """Wait for `future` (or only a wake-up when None); False when a topic change or close came first."""
        waker: asyncio.Future[Any] = asyncio.ensure_future(self._wake.wait())
        waiting = {waker} if future is None else {waker, future}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()
            if cancel and future is not None and not future.done():
                future.cancel()
        if self._wake.is_set():
            self._wake.clear()
        return future is not None and future.done() and not self._closed

    def _drop_stream(self) -> None:
        if self._stream is not None:
            self._stream.cancel()
            self._stream = None
        if self._read is not None:
            self._read.cancel()
            self._read.add_done_callback(_retrieve)
            self._read = None


def _check_topic(topic: bytes) -> bytes:
    if not isinstance(topic, bytes) or not topic:
        raise ValueError("a topic must be non-empty bytes (a group id or an installation key)")
    return topic


def _check_cursor(cursor: int) -> int:
    if cursor < 0:
        raise ValueError(f"a cursor must be >= 0, got {cursor}")
    return cursor
