"""The node's shared state (store + live brokers) and the write paths that keep live delivery ordered."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from devnode.broker import Broker, Topical
from devnode.models import GroupMessageRow, NewGroupMessage, NewWelcome, WelcomeRow
from devnode.store import Store

RowT = TypeVar("RowT", bound=Topical)


@dataclass
class Node:
    store: Store
    groups: Broker[GroupMessageRow] = field(default_factory=Broker)
    welcomes: Broker[WelcomeRow] = field(default_factory=Broker)

    async def send_group_messages(self, messages: Sequence[NewGroupMessage]) -> list[GroupMessageRow]:
        return await _insert_then_publish(self.groups, lambda: self.store.insert_group_messages(messages))

    async def send_welcomes(self, welcomes: Sequence[NewWelcome]) -> list[WelcomeRow]:
        return await _insert_then_publish(self.welcomes, lambda: self.store.insert_welcomes(welcomes))

    def close_streams(self) -> None:
        self.groups.close_all()
        self.welcomes.close_all()


async def _insert_then_publish(broker: Broker[RowT], insert: Callable[[], Awaitable[list[RowT]]]) -> list[RowT]:
    """Commit and publish under the broker's write lock, so live rows are handed out in id order.

    Shielded: a client that hangs up mid-request must not leave a committed row unpublished.
    """

    async def run() -> list[RowT]:
        async with broker.write_lock:
            rows = await insert()
            broker.publish(rows)
            return rows

    return await asyncio.shield(asyncio.ensure_future(run()))
