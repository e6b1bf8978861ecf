"""Subscribe* streams: replay then live without gaps or duplicates, cancellation, shutdown, lagging readers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from devnode.broker import Broker, BrokerLimits, Signal, SubscriptionRefused
from devnode.main import RunningNode
from devnode.streams import SubscriberTooSlow, stream_rows
from devnode_testkit import TopicRow as Row
from devnode_testkit import private_message, send_request, welcome_v1
from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.protos.mls.api.v1.mls_pb2_grpc import MlsApiStub

Filter = mls_pb2.SubscribeGroupMessagesRequest.Filter
HANG_GUARD_S = 30  # only protects the suite from hanging; never a performance assertion


def subscribe(mls: MlsApiStub, *filters: tuple[bytes, int]) -> grpc.aio.UnaryStreamCall:  # type: ignore[type-arg]
    request = mls_pb2.SubscribeGroupMessagesRequest(filters=[Filter(group_id=g, id_cursor=c) for g, c in filters])
    return mls.SubscribeGroupMessages(request)


async def collect(call: grpc.aio.UnaryStreamCall, n: int) -> list[mls_pb2.GroupMessage]:  # type: ignore[type-arg]
    out: list[mls_pb2.GroupMessage] = []

    async def run() -> None:
        async for msg in call:
            out.append(msg)
            if len(out) == n:
                return

    await asyncio.wait_for(run(), HANG_GUARD_S)
    return out


async def wait_until(predicate: Callable[[], bool]) -> None:
    async def run() -> None:
        while not predicate():  # noqa: ASYNC110 - server-side state with no event to await
            await asyncio.sleep(0.01)

    await asyncio.wait_for(run(), HANG_GUARD_S)


async def test_subscribed_header_and_replay_from_cursor(mls: MlsApiStub) -> None:
    datas = [private_message(b"g", ciphertext=b"%d" % i) for i in range(5)]
    await mls.SendGroupMessages(send_request(*datas))
    ids = [m.v1.id for m in (await mls.QueryGroupMessages(mls_pb2.QueryGroupMessagesRequest(group_id=b"g"))).messages]
    call = subscribe(mls, (b"g", sorted(ids)[1]))
    assert ("subscribed", "true") in list(await call.initial_metadata())
    got = await collect(call, 3)
    assert [m.v1.data for m in got] == datas[2:]
    call.cancel()


async def test_replay_live_handover_has_no_gaps_or_duplicates(mls: MlsApiStub, node: RunningNode) -> None:
    before = [private_message(b"g", ciphertext=b"before%d" % i) for i in range(60)]
    await mls.SendGroupMessages(send_request(*before))
    during = [private_message(b"g", ciphertext=b"during%d" % i) for i in range(200)]
    noise = [private_message(b"other", ciphertext=b"noise%d" % i) for i in range(50)]

    async def sender() -> None:
        for i in range(0, len(during), 5):
            await mls.SendGroupMessages(send_request(*during[i : i + 5], *noise[i // 4 : i // 4 + 1]))

    sending = asyncio.create_task(sender())
    calls = []
    for _ in range(3):  # subscribers join at different moments while the sender runs
        calls.append(subscribe(mls, (b"g", 0)))
        await asyncio.sleep(0)
    results = await asyncio.gather(*(collect(c, len(before) + len(during)) for c in calls))
    await sending
    for got in results:
        ids = [m.v1.id for m in got]
        assert ids == sorted(set(ids))
        assert [m.v1.data for m in got] == before + during
    for c in calls:
        c.cancel()


async def test_multiple_groups_with_separate_cursors(mls: MlsApiStub) -> None:
    await mls.SendGroupMessages(
        send_request(private_message(b"a", ciphertext=b"a0"), private_message(b"b", ciphertext=b"b0"))
    )
    a_id = (await mls.QueryGroupMessages(mls_pb2.QueryGroupMessagesRequest(group_id=b"a"))).messages[0].v1.id
    call = subscribe(mls, (b"a", a_id), (b"b", 0))
    await call.initial_metadata()
    await mls.SendGroupMessages(
        send_request(private_message(b"a", ciphertext=b"a1"), private_message(b"c", ciphertext=b"c"))
    )
    got = await collect(call, 2)
    assert [m.v1.data[-2:] for m in got] == [b"b0", b"a1"]
    call.cancel()


async def test_cancel_then_resubscribe_from_last_id(mls: MlsApiStub, node: RunningNode) -> None:
    first = [private_message(b"g", ciphertext=b"1-%d" % i) for i in range(3)]
    call = subscribe(mls, (b"g", 0))
    await call.initial_metadata()
    await mls.SendGroupMessages(send_request(*first))
    got = await collect(call, 3)
    call.cancel()
    await wait_until(lambda: node.node.groups.subscriber_count == 0)

    second = [private_message(b"g", ciphertext=b"2-%d" % i) for i in range(2)]
    await mls.SendGroupMessages(send_request(*second))  # sent while nobody listens
    again = subscribe(mls, (b"g", got[-1].v1.id))
    await again.initial_metadata()
    third = private_message(b"g", ciphertext=b"3")
    await mls.SendGroupMessages(send_request(third))
    assert [m.v1.data for m in await collect(again, 3)] == [*second, third]
    again.cancel()


async def test_empty_filters_stream_nothing_and_end_cleanly_on_shutdown(mls: MlsApiStub, node: RunningNode) -> None:
    empty = subscribe(mls)
    watcher = subscribe(mls, (b"g", 0))
    assert ("subscribed", "true") in list(await empty.initial_metadata())
    await watcher.initial_metadata()
    await mls.SendGroupMessages(send_request(private_message(b"g")))
    await collect(watcher, 1)
    received: list[mls_pb2.GroupMessage] = []

    async def drain() -> None:
        async for msg in empty:
            received.append(msg)

    draining = asyncio.create_task(drain())
    await node.stop(grace=5)
    await asyncio.wait_for(draining, HANG_GUARD_S)
    assert received == []
    assert await empty.code() == grpc.StatusCode.OK


async def test_empty_group_id_filter_is_invalid(mls: MlsApiStub) -> None:
    call = subscribe(mls, (b"", 0))
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await call.read()
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_welcome_stream_replays_then_goes_live(mls: MlsApiStub) -> None:
    inst = b"\x07" * 32
    await mls.SendWelcomeMessages(mls_pb2.SendWelcomeMessagesRequest(messages=[welcome_v1(inst, b"old")]))
    Wf = mls_pb2.SubscribeWelcomeMessagesRequest.Filter
    call = mls.SubscribeWelcomeMessages(mls_pb2.SubscribeWelcomeMessagesRequest(filters=[Wf(installation_key=inst)]))
    assert ("subscribed", "true") in list(await call.initial_metadata())
    await mls.SendWelcomeMessages(
        mls_pb2.SendWelcomeMessagesRequest(messages=[welcome_v1(b"\x08" * 32, b"x"), welcome_v1(inst, b"new")])
    )
    got: list[bytes] = []

    async def run() -> None:
        async for msg in call:
            got.append(msg.v1.data)
            if len(got) == 2:
                return

    await asyncio.wait_for(run(), HANG_GUARD_S)
    assert got == [b"old", b"new"]
    call.cancel()


async def test_lagging_subscriber_is_cut_off_and_resumes_from_its_last_id() -> None:
    table: list[Row] = []
    broker: Broker[Row] = Broker(BrokerLimits(max_queue=2))

    async def replay(cursors: dict[bytes, int], limit: int) -> list[Row]:
        return [r for r in table if r.topic in cursors and r.id > cursors[r.topic]][:limit]

    def commit(*rows: Row) -> None:
        table.extend(rows)  # committed first ...
        broker.publish(rows)  # ... then published, as Node does

    commit(Row(1, b"t"), Row(2, b"u"))
    stream: AsyncIterator[list[Row]] = stream_rows(broker.subscribe([b"t"]), {b"t": 0}, replay, page=1)
    seen = [r.id for r in await anext(stream)]  # replay page 1
    commit(*(Row(i, b"t") for i in range(3, 12)))  # overflows the queue of 2: cut off, queue emptied
    assert broker.queued_bytes == 0
    with pytest.raises(SubscriberTooSlow):
        while True:
            seen += [r.id for r in await asyncio.wait_for(anext(stream), HANG_GUARD_S)]
    assert broker.subscriber_count == 0
    # The client resubscribes from the last id it got and misses nothing.
    assert seen == [1, *range(3, 12)]  # the rows published before the cut were all replayed
    again = stream_rows(broker.subscribe([b"t"]), {b"t": seen[-1]}, replay, page=100)
    commit(Row(12, b"t"))
    seen += [r.id for r in await asyncio.wait_for(anext(again), HANG_GUARD_S)]
    assert seen == [1, *range(3, 13)]
    await again.aclose()
    assert broker.subscriber_count == 0


async def test_stream_opened_after_shutdown_began_ends_after_replay() -> None:
    broker: Broker[Row] = Broker()
    broker.close_all()

    async def replay(cursors: dict[bytes, int], limit: int) -> list[Row]:
        return [Row(5, b"t")] if cursors[b"t"] < 5 else []

    batches = [batch async for batch in stream_rows(broker.subscribe([b"t"]), {b"t": 0}, replay)]
    assert batches == [[Row(5, b"t")]]
    assert broker.subscriber_count == 0


async def test_queue_is_bounded_by_bytes_too() -> None:
    broker: Broker[Row] = Broker(BrokerLimits(max_queue=100, max_bytes=10))
    sub = broker.subscribe([b"t"])
    broker.publish([Row(1, b"t", size=50)])  # alone in the queue: accepted however big
    broker.publish([Row(2, b"t", size=1)])  # 51 bytes queued would exceed 10: cut off
    assert broker.queued_bytes == 0
    broker.publish([Row(3, b"t", size=4)])  # ignored: the subscriber is gone
    assert sub.get_ready() == [Signal.TOO_SLOW]
    sub.close()
    assert broker.subscriber_count == 0


async def test_node_wide_queue_budget_cuts_off_the_furthest_behind() -> None:
    broker: Broker[Row] = Broker(BrokerLimits(max_total_bytes=100))
    behind, keeping_up = broker.subscribe([b"t", b"u"]), broker.subscribe([b"t"])
    broker.publish([Row(1, b"u", size=80)])
    broker.publish([Row(2, b"t", size=30)])  # 140 bytes queued in all: over 100
    assert behind.get_ready() == [Signal.TOO_SLOW]
    assert [r.id for r in keeping_up.get_ready() if isinstance(r, Row)] == [2]
    assert broker.queued_bytes == 0


async def test_subscriptions_are_bounded_per_connection_and_in_total() -> None:
    broker: Broker[Row] = Broker(BrokerLimits(max_subscriptions=3, max_per_peer=2))
    subs = [broker.subscribe([b"t"], "peer-a"), broker.subscribe([b"t"], "peer-a")]
    with pytest.raises(SubscriptionRefused, match="connection"):
        broker.subscribe([b"t"], "peer-a")
    subs.append(broker.subscribe([b"t"], "peer-b"))
    with pytest.raises(SubscriptionRefused, match="node"):
        broker.subscribe([b"t"], "peer-c")
    subs[0].close()
    subs[0].close()  # idempotent: the count goes down once
    subs.append(broker.subscribe([b"t"], "peer-a"))
    assert broker.subscriber_count == 3


async def test_idle_stream_survives_client_keepalive_pings(node: RunningNode) -> None:
    # libxmtp keeps pinging while a subscription is idle; gRPC's default server policy would answer the
    # third early ping with GOAWAY "too_many_pings" and kill the stream.
    options = [
        ("grpc.keepalive_time_ms", 200),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),  # like tonic: keep pinging however long it is idle
    ]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{node.port}", options=options) as channel:
        mls = MlsApiStub(channel)
        call = subscribe(mls, (b"g", 0))
        await call.initial_metadata()
        await asyncio.sleep(5)  # idle: the client pings about once a second meanwhile
        await mls.SendGroupMessages(send_request(private_message(b"g", ciphertext=b"after idle")))
        got = await collect(call, 1)
        assert got[0].v1.data.endswith(b"after idle")
        call.cancel()
