"""The node's shared state (store + live brokers) and the write path that keeps live delivery ordered.

Writes to a streamed table go through one `OrderedWriter` per table: a single task that takes every
request queued so far, inserts them in ONE transaction (group commit: one WAL flush for many concurrent
requests), publishes the new rows to the broker, then answers the requests. Because that task is the
only writer, rows reach subscribers in commit (= id) order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from devnode.broker import Broker, Topical
from devnode.models import GroupMessageRow, NewGroupMessage, NewWelcome, WelcomeRow
from devnode.store import Store

log = logging.getLogger(__name__)
NewT = TypeVar("NewT")
RowT = TypeVar("RowT", bound=Topical)


class OrderedWriter(Generic[NewT, RowT]):
    """Serialises inserts into one table, batching concurrent requests into one transaction."""

    def __init__(self, broker: Broker[RowT], insert: Callable[[Sequence[NewT]], Awaitable[list[RowT]]]) -> None:
        self._broker = broker
        self._insert = insert
        self._pending: list[tuple[Sequence[NewT], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def write(self, items: Sequence[NewT]) -> None:
        """Store `items` (all or nothing) and publish the new rows; returns once committed.

        Shielded: a client that hangs up mid-request must not leave a committed row unpublished.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((items, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._commit([item for items, _ in batch for item in items])
            except Exception as exc:
                if len(batch) == 1:
                    _settle(batch[0][1], exc)
                    continue
                # One request broke the shared transaction: retry each alone so only it fails.
                log.warning("batched insert failed (%s); retrying %d requests one by one", exc, len(batch))
                for items, done in batch:
                    try:
                        await self._commit(items)
                    except Exception as single_exc:
                        _settle(done, single_exc)
                    else:
                        _settle(done, None)
                continue
            for _, done in batch:
                _settle(done, None)

    async def _commit(self, items: Sequence[NewT]) -> None:
        rows = await self._insert(items)
        self._broker.publish(rows)


def _settle(done: asyncio.Future[None], exc: BaseException | None) -> None:
    if done.done():
        return
    if exc is None:
        done.set_result(None)
    else:
        done.set_exception(exc)


@dataclass
class Node:
    store: Store
    groups: Broker[GroupMessageRow] = field(default_factory=Broker)
    welcomes: Broker[WelcomeRow] = field(default_factory=Broker)

    def __post_init__(self) -> None:
        self._group_writer = OrderedWriter(self.groups, self.store.insert_group_messages)
        self._welcome_writer = OrderedWriter(self.welcomes, self.store.insert_welcomes)

    async def send_group_messages(self, messages: Sequence[NewGroupMessage]) -> None:
        await self._group_writer.write(messages)

    async def send_welcomes(self, welcomes: Sequence[NewWelcome]) -> None:
        await self._welcome_writer.write(welcomes)

    def close_streams(self) -> None:
        self.groups.close_all()
        self.welcomes.close_all()
