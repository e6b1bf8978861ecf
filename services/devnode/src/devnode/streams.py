"""Replay-then-live streaming of rows for a set of (topic, id_cursor) filters, without gaps or duplicates.

Order of operations (the part that makes hand-over safe): subscribe to the broker first, then replay
from the database page by page, then forward live rows, dropping any row whose id is not above the
topic's high-water mark. If the broker reports that the queue lagged, re-read the database from the
high-water marks and carry on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from devnode.broker import Broker, RowT, Signal

Replay = Callable[[dict[bytes, int], int], Awaitable[list[RowT]]]
REPLAY_PAGE = 500


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
    broker: Broker[RowT], cursors: dict[bytes, int], replay: Replay[RowT], page: int = REPLAY_PAGE
) -> AsyncIterator[list[RowT]]:
    """Yield batches of rows (ascending id per topic) until the node closes the stream or the caller stops.

    With no filters the stream stays open and yields nothing, like xmtp-node-go's empty subscription.
    """
    hwm = dict(cursors)
    sub = broker.subscribe(hwm.keys())
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
            if Signal.LAGGED in items:
                sub.resume()
                async for batch in _catch_up(replay, hwm, page):
                    yield batch
    finally:
        sub.close()
