"""OrderedWriter: group commit of concurrent requests, failure isolation, and publishing despite cancel."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from devnode.broker import Broker
from devnode.node import OrderedWriter
from devnode_testkit import TopicRow as Row


class FakeTable:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.calls: list[list[str]] = []
        self.gate: asyncio.Event | None = None

    async def insert(self, items: Sequence[str]) -> list[Row]:
        self.calls.append(list(items))
        if self.gate is not None:
            await self.gate.wait()
        if "bad" in items:
            raise RuntimeError("constraint violated")
        new = [Row(len(self.rows) + i + 1, b"t") for i in range(len(items))]
        self.rows.extend(new)
        return new


def watch(broker: Broker[Row]) -> list[int]:
    seen: list[int] = []
    sub = broker.subscribe([b"t"])
    original = sub.deliver

    def deliver(row: Row) -> None:
        seen.append(row.id)
        original(row)

    sub.deliver = deliver  # type: ignore[method-assign]
    return seen


async def test_concurrent_writes_share_one_transaction() -> None:
    table, broker = FakeTable(), Broker[Row]()
    published = watch(broker)
    writer = OrderedWriter(broker, table.insert)
    await asyncio.gather(writer.write(["a"]), writer.write(["b", "c"]), writer.write(["d"]))
    assert table.calls == [["a", "b", "c", "d"]]
    assert published == [1, 2, 3, 4]


async def test_a_failing_request_fails_alone() -> None:
    table, broker = FakeTable(), Broker[Row]()
    published = watch(broker)
    writer = OrderedWriter(broker, table.insert)
    results = await asyncio.gather(
        writer.write(["a"]), writer.write(["bad"]), writer.write(["c"]), return_exceptions=True
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], RuntimeError)
    assert table.calls == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]
    assert published == [1, 2]


async def test_cancelled_caller_still_gets_its_rows_published() -> None:
    table, broker = FakeTable(), Broker[Row]()
    published = watch(broker)
    writer = OrderedWriter(broker, table.insert)
    table.gate = asyncio.Event()
    caller = asyncio.create_task(writer.write(["a"]))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    table.gate.set()
    await writer.write(["b"])
    assert published == [1, 2]
