"""Subscriptions against a real devnode: replay then live, topic-set changes, node restarts, resuming from cursors."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TypeVar

from devnode.main import RunningNode, start
from nodekit import FAST_BACKOFF, FAST_CHANNEL, group_message
from xmtp_core.node import GroupMessage, NewWelcome, NodeClient, Subscription, retry

# Only a guard against hanging forever when something is broken; no test asserts on time.
HANG_GUARD_S = 60.0
E = TypeVar("E", bound=GroupMessage)


async def take(sub: Subscription[E], n: int) -> list[E]:
    async def collect() -> list[E]:
        return [await anext(sub) for _ in range(n)]

    return await asyncio.wait_for(collect(), HANG_GUARD_S)


async def send(client: NodeClient, group_id: bytes, *bodies: bytes) -> list[bytes]:
    """Publish, retrying while the node is unreachable (the node drops duplicates, so a retry is safe)."""
    datas = [group_message(group_id, body) for body in bodies]
    await retry(lambda: client.send_group_messages(datas), FAST_BACKOFF)
    return datas


async def test_replay_then_live(client: NodeClient) -> None:
    old = await send(client, b"g1", b"a", b"b")
    await send(client, b"other", b"x")
    async with client.subscribe_group_messages({b"g1": 0}, backoff=FAST_BACKOFF) as sub:
        replayed = await take(sub, 2)
        assert [m.data for m in replayed] == old
        live = await send(client, b"g1", b"c")
        await send(client, b"other", b"y")
        live += await send(client, b"g1", b"d")
        got = await take(sub, 2)
        assert [m.data for m in got] == live
        assert sub.cursors == {b"g1": got[-1].id}
        assert sub.reconnects == 0


async def test_starts_after_cursor(client: NodeClient) -> None:
    first = await send(client, b"g", b"1", b"2", b"3")
    page = await client.query_group_messages(b"g")
    async with client.subscribe_group_messages({b"g": page.items[1].id}, backoff=FAST_BACKOFF) as sub:
        assert [m.data for m in await take(sub, 1)] == first[2:]


async def test_removed_topic_stops_and_added_topic_replays(client: NodeClient) -> None:
    g1_old = await send(client, b"g1", b"1")
    g2_old = await send(client, b"g2", b"1", b"2")
    async with client.subscribe_group_messages({b"g1": 0}, backoff=FAST_BACKOFF) as sub:
        assert [m.data for m in await take(sub, 1)] == g1_old
        sub.add(b"g2")  # from 0: its history is replayed
        assert [m.data for m in await take(sub, 2)] == g2_old
        sub.remove(b"g1")
        await send(client, b"g1", b"not wanted")
        g2_new = await send(client, b"g2", b"3")
        # The g1 message has the lower id: had it been delivered, it would come first.
        assert [m.data for m in await take(sub, 1)] == g2_new
        assert set(sub.cursors) == {b"g2"}
        assert sub.opens == 3 and sub.reconnects == 0


async def test_topic_changes_while_messages_flow_lose_and_duplicate_nothing(client: NodeClient) -> None:
    topics = [b"t1", b"t2", b"t3"]
    sent: dict[bytes, list[bytes]] = defaultdict(list)
    rounds = 30

    async def produce() -> None:
        for i in range(rounds):
            for topic in topics:
                sent[topic] += await send(client, topic, b"%d" % i)

    received: dict[bytes, list[GroupMessage]] = defaultdict(list)
    async with client.subscribe_group_messages({b"t1": 0}, backoff=FAST_BACKOFF) as sub:
        producer = asyncio.create_task(produce())
        changes = {10: lambda: sub.add(b"t2"), 25: lambda: sub.set_topics({b"t1": 0, b"t2": 0, b"t3": 0})}
        count = 0
        expected = rounds * len(topics)
        async with asyncio.timeout(HANG_GUARD_S):
            while count < expected:
                message = await anext(sub)
                received[message.topic].append(message)
                count += 1
                if count in changes:
                    changes[count]()
        await producer
        assert sub.opens >= 3
    for topic in topics:
        got = received[topic]
        assert [m.data for m in got] == sent[topic], topic
        assert [m.id for m in got] == sorted({m.id for m in got})


async def test_node_restart_resumes_from_cursor(database_url: str) -> None:
    node: RunningNode = await start("127.0.0.1:0", database_url)
    port = node.port
    try:
        async with NodeClient.for_url(f"http://127.0.0.1:{port}", **FAST_CHANNEL) as client:
            before = await send(client, b"g", b"1", b"2")
            sub = client.subscribe_group_messages({b"g": 0}, backoff=FAST_BACKOFF)
            assert [m.data for m in await take(sub, 2)] == before
            reading = asyncio.create_task(take(sub, 3))

            await node.stop(grace=1.0)
            node = await start(f"127.0.0.1:{port}", database_url)  # same port, same database

            after = await send(client, b"g", b"3", b"4")  # likely while the subscription still backs off
            after += await send(client, b"g", b"5")
            got = await reading
            assert [m.data for m in got] == after
            assert sub.reconnects >= 1
            live = await send(client, b"g", b"6")
            assert [m.data for m in await take(sub, 1)] == live
            await sub.aclose()
    finally:
        await node.stop(grace=1.0)


async def test_new_subscription_resumes_from_saved_cursors(client: NodeClient) -> None:
    await send(client, b"g", b"1", b"2")
    async with client.subscribe_group_messages({b"g": 0}, backoff=FAST_BACKOFF) as first:
        await take(first, 2)
        saved = first.cursors
    later = await send(client, b"g", b"3")
    async with client.subscribe_group_messages(saved, backoff=FAST_BACKOFF) as second:
        assert [m.data for m in await take(second, 1)] == later


async def test_welcome_subscription(client: NodeClient) -> None:
    me = b"\x01" * 32
    await client.send_welcome_messages([NewWelcome(me, b"w1", b"pk", 1), NewWelcome(b"\x02" * 32, b"no", b"pk", 1)])
    async with client.subscribe_welcome_messages({me: 0}, backoff=FAST_BACKOFF) as sub:

        async def next_data() -> bytes:
            return (await asyncio.wait_for(anext(sub), HANG_GUARD_S)).data

        assert await next_data() == b"w1"
        await client.send_welcome_messages([NewWelcome(me, b"w2", b"pk", 1)])
        assert await next_data() == b"w2"


async def test_close_ends_iteration(client: NodeClient) -> None:
    sub = client.subscribe_group_messages({b"quiet": 0}, backoff=FAST_BACKOFF)
    waiting = asyncio.create_task(anext(sub))
    await asyncio.sleep(0)  # let it start waiting on the (empty) stream
    await sub.aclose()
    done = await asyncio.wait_for(asyncio.gather(waiting, return_exceptions=True), HANG_GUARD_S)
    assert isinstance(done[0], StopAsyncIteration)
    assert [m async for m in sub] == []


async def test_topic_added_while_the_node_is_down(database_url: str) -> None:
    node: RunningNode = await start("127.0.0.1:0", database_url)
    port = node.port
    try:
        async with NodeClient.for_url(f"http://127.0.0.1:{port}", **FAST_CHANNEL) as client:
            g1 = await send(client, b"g1", b"1")
            g2 = await send(client, b"g2", b"1")
            async with client.subscribe_group_messages({b"g1": 0}, backoff=FAST_BACKOFF) as sub:
                assert [m.data for m in await take(sub, 1)] == g1
                reading = asyncio.create_task(take(sub, 3))
                await node.stop(grace=1.0)
                sub.add(b"g2")  # the set changes while there is no node to talk to
                node = await start(f"127.0.0.1:{port}", database_url)
                g1 += await send(client, b"g1", b"2")
                g2 += await send(client, b"g2", b"2")
                got = await reading
                assert sorted(m.data for m in got) == sorted(g1[1:] + g2)
                assert [m.data for m in got if m.topic == b"g2"] == g2
                last = {m.topic: m.id for m in got}
                assert sub.cursors == last
    finally:
        await node.stop(grace=1.0)


async def test_wait_for_ready_calls_ride_out_a_restart(database_url: str) -> None:
    node: RunningNode = await start("127.0.0.1:0", database_url)
    port = node.port
    try:
        async with NodeClient.for_url(f"http://127.0.0.1:{port}", wait_for_ready=True, **FAST_CHANNEL) as client:
            await client.send_group_messages([group_message(b"g", b"before")])
            await node.stop(grace=1.0)
            pending = asyncio.create_task(client.send_group_messages([group_message(b"g", b"during")]))
            await asyncio.sleep(0)
            node = await start(f"127.0.0.1:{port}", database_url)
            await asyncio.wait_for(pending, HANG_GUARD_S)
            page = await client.query_group_messages(b"g")
            assert len(page.items) == 2
    finally:
        await node.stop(grace=1.0)
