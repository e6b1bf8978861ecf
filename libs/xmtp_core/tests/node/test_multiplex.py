"""Shared subscriptions against a real devnode: many readers on one stream, rewinds, shards, backpressure, failure."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import pytest
from nodekit import FAST_BACKOFF, group_message
from xmtp_core.node import GroupMessage, NodeClient, NodeRejected, SharedReader, SharedSubscriptions, Subscription

HANG_GUARD_S = 60.0  # only a guard against hanging forever; no test asserts on time


def hub(client: NodeClient, **options: int) -> SharedSubscriptions[GroupMessage]:
    return SharedSubscriptions(lambda c: client.subscribe_group_messages(c, backoff=FAST_BACKOFF), **options)


async def take(reader: SharedReader[GroupMessage], n: int) -> list[GroupMessage]:
    async def collect() -> list[GroupMessage]:
        return [await anext(reader) for _ in range(n)]

    return await asyncio.wait_for(collect(), HANG_GUARD_S)


async def send(client: NodeClient, group_id: bytes, *bodies: bytes) -> list[bytes]:
    datas = [group_message(group_id, body) for body in bodies]
    await client.send_group_messages(datas)
    return datas


async def test_readers_share_one_stream_and_each_sees_only_its_topics(client: NodeClient) -> None:
    shared = hub(client)
    a, b = shared.reader({b"ga": 0, b"both": 0}), shared.reader({b"gb": 0, b"both": 0})
    sent_a, sent_b, sent_both = await send(client, b"ga", b"1"), await send(client, b"gb", b"2"), []
    sent_both = await send(client, b"both", b"3", b"4")
    got_a, got_b = await take(a, 3), await take(b, 3)
    assert sorted(m.data for m in got_a) == sorted(sent_a + sent_both)
    assert sorted(m.data for m in got_b) == sorted(sent_b + sent_both)
    assert [m.data for m in got_a if m.topic == b"both"] == sent_both  # in node order
    assert shared.streams == 1
    await a.aclose()
    await b.aclose()
    assert shared.streams == 0  # no topic left: the stream is closed
    await shared.aclose()


async def test_a_reader_behind_the_stream_rewinds_it_and_the_one_ahead_sees_nothing_twice(
    client: NodeClient,
) -> None:
    shared = hub(client)
    history = await send(client, b"g", b"1", b"2")
    ahead = shared.reader({b"g": 0})
    assert [m.data for m in await take(ahead, 2)] == history
    behind = shared.reader({b"g": 0})  # the shared stream is past both: it must replay for this one
    assert [m.data for m in await take(behind, 2)] == history
    live = await send(client, b"g", b"3")
    assert [m.data for m in await take(ahead, 1)] == live  # not the replayed 1 and 2
    assert [m.data for m in await take(behind, 1)] == live
    assert ahead.cursors == behind.cursors
    for reader in (ahead, behind):
        await reader.aclose()
    await shared.aclose()


async def test_more_readers_than_the_node_allows_streams_per_connection(client: NodeClient) -> None:
    # devnode holds 64 streams per connection and kind: one Subscription per reader would be refused from the 65th.
    shared = hub(client)
    readers = {bytes([i]) * 16: shared.reader({bytes([i]) * 16: 0}) for i in range(100)}
    sent = {topic: await send(client, topic, topic) for topic in readers}
    for topic, reader in readers.items():
        assert [m.data for m in await take(reader, 1)] == sent[topic]
    assert shared.streams == 1
    for reader in readers.values():
        await reader.aclose()
    await shared.aclose()


async def test_topics_past_a_stream_filter_go_to_another_shard(client: NodeClient) -> None:
    shared = hub(client, max_topics=2)
    first, second = shared.reader({b"t1": 0, b"t2": 0}), shared.reader({b"t3": 0})
    assert shared.streams == 2
    sent = await send(client, b"t3", b"x")
    assert [m.data for m in await take(second, 1)] == sent
    await first.aclose()
    assert shared.streams == 1
    await second.aclose()
    await shared.aclose()


async def test_a_full_reader_holds_the_stream_until_it_reads_or_closes(client: NodeClient) -> None:
    shared = hub(client, buffer=1)
    idle, busy = shared.reader({b"idle": 0}), shared.reader({b"busy": 0})
    await send(client, b"idle", b"1", b"2", b"3")  # fills idle's buffer; the pump waits for room
    await asyncio.sleep(0.5)
    later = await send(client, b"busy", b"x")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(busy), 0.5)  # held behind idle: backpressure, not an unbounded buffer
    await idle.aclose()
    assert [m.data for m in await take(busy, 1)] == later
    await busy.aclose()
    await shared.aclose()


async def test_a_stream_that_fails_for_good_fails_its_readers_and_the_next_reader_gets_a_new_one() -> None:
    opened: list[int] = []

    def refusing(cursors: Mapping[bytes, int]) -> Subscription[GroupMessage]:
        opened.append(len(cursors))

        def open_stream(c: Mapping[bytes, int]) -> None:
            raise NodeRejected("SubscribeGroupMessages", "not allowed")

        return Subscription(open_stream)  # type: ignore[arg-type]

    shared = SharedSubscriptions(refusing)
    reader = shared.reader({b"g": 0})
    with pytest.raises(NodeRejected):
        await asyncio.wait_for(anext(reader), HANG_GUARD_S)
    assert shared.streams == 0
    await reader.aclose()
    again = shared.reader({b"g": 0})
    assert shared.streams == 1 and len(opened) == 2
    await again.aclose()
    await shared.aclose()
