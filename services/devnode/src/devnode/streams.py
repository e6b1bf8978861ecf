"""Replay-then-live streaming of rows for a set of (topic, id_cursor) filters, without gaps or duplicates.

Order of operations (the part that makes hand-over safe): the caller subscribes to the broker first, then
this replays from the database page by page, then forwards live rows, dropping any row whose id is not above
the topic's high-water mark. A subscriber cut off by the broker (it fell too far behind) ends with
`SubscriberTooSlow`; the client resubscribes from the last id it received.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from devnode.broker import RowT, Signal, Subscription

Replay = Callable[[dict[bytes, int], int], Awaitable[list[RowT]]]
REPLAY_PAGE = 500


class SubscriberTooSlow(Exception):
    """The stream's reader fell further behind than the node queues for it; the stream is ended."""


async def _catch_up(replay: Replay[RowT], hwm: dict[bytes, int], page: int) -> AsyncIterator[list[RowT]]:
    while True:
        rows = await replay(hwm, page)
        for row in rows:
            hwm[row.topic] = max(hwm[row.topic], row.id)
        if not rows:  # pages may be cut short by size, so only an empty page means "caught up"
            return
        yield rows


def _fresh(items: list[RowT | Signal], hwm: dict[bytes, int]) -> list[RowT]:
    out: list[RowT] = []
    for item in items:
        if isinstance(item, Signal):
            continue
        if item.id > hwm[item.topic]:
            hwm[item.topic] = item.id
            out.append(item)
    return out


async def stream_rows(
    sub: Subscription[RowT], cursors: dict[bytes, int], replay: Replay[RowT], page: int = REPLAY_PAGE
) -> AsyncIterator[list[RowT]]:
    """Yield batches of rows (ascending id per topic) until the node closes the stream or the caller stops;
    `sub` must already be subscribed to the cursors' topics, and is closed when the stream ends.

    With no filters the stream stays open and yields nothing, like xmtp-node-go's empty subscription.
    """
    hwm = dict(cursors)
    try:
        async for batch in _catch_up(replay, hwm, page):
            yield batch
        while True:
            items = [await sub.get(), *sub.get_ready()]
            fresh = _fresh(items, hwm)
            if fresh:
                yield fresh
            if Signal.CLOSED in items:
                return
            if Signal.TOO_SLOW in items:
                raise SubscriberTooSlow("the subscriber fell too far behind; resubscribe from the last id received")
    finally:
        sub.close()
