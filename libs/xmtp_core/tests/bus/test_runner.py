"""PartitionedConsumer against real NATS JetStream: order per conversation across two replicas, take-over after a
replica dies mid-handler, poison messages dead-lettered after max_deliver while the partition goes on."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable

import nats
import pytest
from nats.aio.client import ServerVersion
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from xmtp_core.bus import subjects
from xmtp_core.bus.runner import Meta, PartitionedConsumer, Poison, Transient
from xmtp_core.bus.schemas import DeadLetter, GroupEnvelope, InboundEnvelope, dump, parse
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import IN, check_server, consumer_lag

pytestmark = pytest.mark.integration
AGENT = "agent1"
FAST = {"fetch_timeout_s": 0.5}


def envelope(conv_n: int, envelope_id: int) -> GroupEnvelope:
    return GroupEnvelope(
        agent=AGENT, envelope_id=envelope_id, created_ns=1, group_id=f"{conv_n:04x}", data=b"x%d" % envelope_id
    )


async def publish(js: JetStreamContext, env: GroupEnvelope) -> None:
    msg_id = subjects.inbound_msg_id(env.conv, env.envelope_id)
    await js.publish(
        subjects.inbound(AGENT, env.conv), dump(env), stream=IN.name, headers={subjects.MSG_ID_HEADER: msg_id}
    )


async def wait_for(predicate: Callable[[], bool], within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling what another task's handler records
            await asyncio.sleep(0.02)


Handle = Callable[[GroupEnvelope, Meta], Awaitable[None]]


async def consume_until(
    settings: BusSettings, handle: Handle, done: Callable[[PartitionedConsumer[GroupEnvelope]], bool]
) -> PartitionedConsumer[GroupEnvelope]:
    """Run one replica (its own connection) until `done(runner)`."""
    conn = await nats.connect(settings.nats_url)
    runner: PartitionedConsumer[GroupEnvelope] = PartitionedConsumer(
        conn.jetstream(), IN, "crypto", InboundEnvelope, handle, settings, **FAST
    )
    task = asyncio.create_task(runner.run())
    try:
        await wait_for(lambda: done(runner))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await conn.close()
    return runner


async def dead_letters(js: JetStreamContext) -> list[DeadLetter]:
    sub = await js.subscribe("sb.dlq.>", ordered_consumer=True)
    out: list[DeadLetter] = []
    with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):
        while True:
            msg = await sub.next_msg(timeout=0.5)
            out.append(parse(DeadLetter, msg.data))
    await sub.unsubscribe()
    return out


async def test_order_per_conversation_with_two_replicas(js: JetStreamContext, settings: BusSettings) -> None:
    convs, per_conv = 10, 12
    seen: dict[str, list[int]] = defaultdict(list)
    by_replica: dict[str, int] = defaultdict(int)

    def handler(name: str):  # type: ignore[no-untyped-def]
        async def handle(env: GroupEnvelope, meta: Meta) -> None:
            seen[env.conv].append(env.envelope_id)
            by_replica[name] += 1
            assert meta.agent == AGENT and meta.conv == env.conv and meta.partition in (0, 1)
            await asyncio.sleep(0.005)  # a handler that takes time lets the other replica pull

        return handle

    for i in range(per_conv):
        for c in range(convs):
            await publish(js, envelope(c, 1 + i))
    conns = [await nats.connect(settings.nats_url) for _ in range(2)]
    runners = [
        PartitionedConsumer(nc.jetstream(), IN, "crypto", InboundEnvelope, handler(f"r{n}"), settings, **FAST)
        for n, nc in enumerate(conns)
    ]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        await wait_for(lambda: sum(len(v) for v in seen.values()) >= convs * per_conv)
        await asyncio.sleep(0.3)  # nothing extra arrives
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for nc in conns:
            await nc.close()
    assert len(seen) == convs
    for conv, ids in seen.items():
        assert ids == list(range(1, per_conv + 1)), conv
    assert by_replica["r0"] > 0 and by_replica["r1"] > 0, by_replica


async def test_take_over_after_a_replica_dies_mid_handler(js: JetStreamContext, settings: BusSettings) -> None:
    started = asyncio.Event()
    handled: list[tuple[str, int]] = []

    async def stuck(env: GroupEnvelope, meta: Meta) -> None:
        started.set()
        await asyncio.sleep(3600)

    async def ok(env: GroupEnvelope, meta: Meta) -> None:
        handled.append(("b", env.envelope_id))

    await publish(js, envelope(1, 1))
    await publish(js, envelope(1, 2))
    nc_a, nc_b = await nats.connect(settings.nats_url), await nats.connect(settings.nats_url)
    a = asyncio.create_task(
        PartitionedConsumer(nc_a.jetstream(), IN, "crypto", InboundEnvelope, stuck, settings, fetch_timeout_s=0.5).run()
    )
    try:
        await asyncio.wait_for(started.wait(), 10)
        a.cancel()  # the replica dies while its handler holds envelope 1
        await asyncio.gather(a, return_exceptions=True)
        await nc_a.close()
        b = PartitionedConsumer(nc_b.jetstream(), IN, "crypto", InboundEnvelope, ok, settings, fetch_timeout_s=0.5)
        task = asyncio.create_task(b.run())
        await wait_for(lambda: len(handled) >= 2)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await nc_b.close()
    assert handled == [("b", 1), ("b", 2)]


async def test_silent_death_is_redelivered_after_ack_wait(js: JetStreamContext, settings: BusSettings) -> None:
    """A replica whose connection vanishes (no nak) loses its message to the next puller after ack_wait."""
    started = asyncio.Event()
    handled: list[int] = []

    async def stuck(env: GroupEnvelope, meta: Meta) -> None:
        started.set()
        await asyncio.sleep(3600)

    async def ok(env: GroupEnvelope, meta: Meta) -> None:
        handled.append(meta.num_delivered)

    await publish(js, envelope(1, 1))
    nc_a, nc_b = await nats.connect(settings.nats_url), await nats.connect(settings.nats_url)
    a = asyncio.create_task(
        PartitionedConsumer(nc_a.jetstream(), IN, "crypto", InboundEnvelope, stuck, settings, fetch_timeout_s=0.5).run()
    )
    await asyncio.wait_for(started.wait(), 10)
    await nc_a.close()  # the connection goes first: the nak on cancel cannot reach the server
    a.cancel()
    await asyncio.gather(a, return_exceptions=True)
    b = asyncio.create_task(
        PartitionedConsumer(nc_b.jetstream(), IN, "crypto", InboundEnvelope, ok, settings, fetch_timeout_s=0.5).run()
    )
    try:
        await wait_for(lambda: len(handled) >= 1)
    finally:
        b.cancel()
        await asyncio.gather(b, return_exceptions=True)
        await nc_b.close()
    assert handled == [2]


async def test_poison_is_dead_lettered_after_max_deliver_and_the_partition_goes_on(
    js: JetStreamContext, settings: BusSettings
) -> None:
    attempts: dict[int, int] = defaultdict(int)
    done: list[int] = []

    async def handle(env: GroupEnvelope, meta: Meta) -> None:
        attempts[env.envelope_id] += 1
        if env.envelope_id == 1:
            raise ValueError("poison\nwith a forged log line")
        done.append(env.envelope_id)

    await publish(js, envelope(1, 1))
    await publish(js, envelope(1, 2))
    # A payload that can never parse goes to the DLQ at once, without reaching the handler.
    await js.publish(subjects.inbound(AGENT, "g0001"), b"{not json", stream=IN.name)
    await publish(js, envelope(1, 3))
    runner = await consume_until(settings, handle, lambda r: done == [2, 3])
    assert attempts[1] == settings.max_deliver
    letters = await dead_letters(js)
    assert len(letters) == 2
    poison = next(x for x in letters if x.deliveries == settings.max_deliver)
    assert poison.reason.startswith("ValueError: poison") and "\n" not in poison.reason
    assert poison.stream == "SB_IN" and poison.msg_id == "group:0001:1" and poison.subject.endswith(".agent1.g0001")
    assert parse(InboundEnvelope, poison.payload).envelope_id == 1
    bad = next(x for x in letters if x.deliveries == 1)
    assert bad.reason.startswith("invalid payload") and bad.payload == b"{not json"
    assert runner.dead_lettered == 2


async def test_transient_errors_retry_without_dead_letter(js: JetStreamContext, settings: BusSettings) -> None:
    calls: list[int] = []

    async def handle(env: GroupEnvelope, meta: Meta) -> None:
        calls.append(meta.num_delivered)
        if len(calls) <= settings.max_deliver + 1:
            raise Transient("postgres down")

    await publish(js, envelope(1, 1))
    fast = settings.model_copy(update={"nak_delay_s": 0.01})
    runner = await consume_until(fast, handle, lambda r: r.handled == 1)
    assert calls == list(range(1, settings.max_deliver + 3))
    assert runner.dead_lettered == 0 and await dead_letters(js) == []


async def test_republished_envelope_is_a_duplicate(js: JetStreamContext) -> None:
    env = envelope(7, 42)
    await publish(js, env)
    await publish(js, env)
    info = await js.stream_info(IN.name)
    assert info.state.messages == 1
    msg = await js.get_last_msg(IN.name, "sb.in.*.agent1.g0007")
    assert msg.subject.split(".")[2] in ("0", "1")  # stored under its partition token


async def test_poison_is_dead_lettered_at_once(js: JetStreamContext, settings: BusSettings) -> None:
    calls: list[int] = []

    async def handle(env: GroupEnvelope, meta: Meta) -> None:
        calls.append(env.envelope_id)
        if env.envelope_id == 1:
            raise Poison("contradicts its subject")

    await publish(js, envelope(1, 1))
    await publish(js, envelope(1, 2))
    await consume_until(settings, handle, lambda r: r.handled == 1)
    assert calls == [1, 2]
    [letter] = await dead_letters(js)
    assert letter.reason == "Poison: contradicts its subject" and letter.deliveries == 1


async def test_a_nats_error_mid_message_does_not_stop_the_runner(
    js: JetStreamContext, settings: BusSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ack lost to a connection error: the partition pulls on, and the message comes back after ack_wait."""
    deliveries: list[int] = []
    real_ack = Msg.ack
    failed = []

    async def flaky_ack(self: Msg) -> None:
        if not failed:
            failed.append(True)
            raise nats.errors.ConnectionClosedError
        await real_ack(self)

    monkeypatch.setattr(Msg, "ack", flaky_ack)

    async def handle(env: GroupEnvelope, meta: Meta) -> None:
        deliveries.append(meta.num_delivered)

    await publish(js, envelope(1, 1))
    await consume_until(settings, handle, lambda r: r.handled == 1)
    assert deliveries == [1, 2]


def test_old_servers_are_refused() -> None:
    class Old:
        connected_server_version = ServerVersion("2.9.10")

    with pytest.raises(RuntimeError, match="too old"):
        check_server(Old())  # type: ignore[arg-type]
    Old.connected_server_version = ServerVersion("2.15.1")
    check_server(Old())  # type: ignore[arg-type]


async def test_consumer_lag_per_partition(js: JetStreamContext, settings: BusSettings) -> None:
    for i in range(6):
        await publish(js, envelope(i, 1))
    before = await consumer_lag(js, IN, "crypto", settings)
    assert sum(before.values()) == 6 and set(before) == {0, 1}

    async def handle(env: GroupEnvelope, meta: Meta) -> None:
        pass

    await consume_until(settings, handle, lambda r: r.handled == 6)
    assert await consumer_lag(js, IN, "crypto", settings) == {0: 0, 1: 0}
