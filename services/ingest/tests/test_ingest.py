"""Ingest against a real devnode and NATS JetStream: envelopes land in SB_IN in node order with their msg ids, a
restart republishes nothing twice, and a topic added to KV while the streams are open is followed at once."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import nats
import pytest
from ingest.service import FLUSH_EVERY, AgentIngest, Ingest, _Pending
from nats.js import JetStreamContext
from nodekit import FAST_BACKOFF, group_message
from xmtp_core.bus import kv as bus_kv
from xmtp_core.bus import schemas, subjects
from xmtp_core.bus.schemas import GroupEnvelope, InboundEnvelope, WelcomeEnvelope, parse
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import DLQ, IN, ensure_buckets
from xmtp_core.node import GroupMessage, NewWelcome, NodeClient

pytestmark = pytest.mark.integration
AGENT = "alice"


async def eventually(predicate: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110 - polling what another task publishes
            await asyncio.sleep(0.05)


async def stored(js: JetStreamContext) -> list[tuple[str, str, GroupEnvelope | WelcomeEnvelope]]:
    """(subject, msg id, envelope) of everything in SB_IN, in stream order."""
    info = await js.stream_info(IN.name)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1 if info.state.messages else 0):
        msg = await js.get_msg(IN.name, seq)
        out.append((msg.subject, (msg.headers or {}).get(subjects.MSG_ID_HEADER, ""), parse(InboundEnvelope, msg.data)))
    return out


async def count(js: JetStreamContext) -> int:
    return int((await js.stream_info(IN.name)).state.messages)


@contextlib.asynccontextmanager
async def running_ingest(node: NodeClient, settings: BusSettings) -> AsyncIterator[Ingest]:
    conn = await nats.connect(settings.nats_url)
    js = conn.jetstream()
    ingest = Ingest(node, js, await ensure_buckets(js, settings), settings, backoff=FAST_BACKOFF)
    task = asyncio.create_task(ingest.run())
    try:
        yield ingest
    finally:
        # Bounded: nats-py's close can wait on a reconnect for ever, and a hung stop must fail, not stall the run.
        task.cancel()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 30)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), 5)


@pytest.mark.parametrize("in_flight", [64, 1])  # 1: every publish waits at the bound (backpressure), nothing lost
async def test_envelopes_in_order_restart_and_new_topic(
    js: JetStreamContext, node: NodeClient, settings: BusSettings, in_flight: int
) -> None:
    # Bounded so a hung stop fails in 90 s rather than at pytest-timeout's 600 s (this test once stalled one run in
    # four: the acker's lost cancellation, `test_a_cancel_that_meets_a_pubAck_ends_the_acker`).
    async with asyncio.timeout(90):
        await _envelopes_in_order_restart_and_new_topic(js, node, settings, in_flight)


async def _envelopes_in_order_restart_and_new_topic(
    js: JetStreamContext, node: NodeClient, settings: BusSettings, in_flight: int
) -> None:
    settings = settings.model_copy(update={"max_in_flight": in_flight})
    buckets = await ensure_buckets(js, settings)
    installation, g1, g2 = os.urandom(32), os.urandom(16), os.urandom(16)
    await bus_kv.put_agent(
        buckets[subjects.KV_AGENTS], AGENT, bus_kv.AgentRecord(installation_key=installation.hex(), inbox_id="i")
    )
    await bus_kv.put_topic(buckets[subjects.KV_TOPICS], AGENT, subjects.group_conv(g1))
    # Unreadable entries are skipped (logged), never the end of the watch.
    await buckets[subjects.KV_AGENTS].put("bob", b"{not json")
    await buckets[subjects.KV_AGENTS].put("Bad_Name", b"{}")
    await buckets[subjects.KV_TOPICS].put("alice.zz", b'{"v":1,"cursor":0}')
    await buckets[subjects.KV_TOPICS].put("alice.gab", b'{"v":1,"cursor":-1}')
    # Before ingest starts: found by the sync.
    await node.send_group_messages([group_message(g1) for _ in range(5)])
    await node.send_welcome_messages([NewWelcome(installation, b"welcome-1", b"pk", 1)])

    async with running_ingest(node, settings):
        await eventually(lambda: _at_least(js, 6))
        # While streaming: found by the subscription.
        for _ in range(5):
            await node.send_group_messages([group_message(g1)])
        await eventually(lambda: _at_least(js, 11))
        # A group joined while the stream is open.
        await bus_kv.put_topic(buckets[subjects.KV_TOPICS], AGENT, subjects.group_conv(g2))
        await asyncio.sleep(0.3)
        await node.send_group_messages([group_message(g2), group_message(g2)])
        await node.send_welcome_messages([NewWelcome(installation, b"welcome-2", b"pk", 1)])
        await eventually(lambda: _at_least(js, 14))

    items = await stored(js)
    assert len(items) == 14
    node_g1 = [m.id async for m in node.iter_group_messages(g1)]
    node_g2 = [m.id async for m in node.iter_group_messages(g2)]
    by_conv: dict[str, list[int]] = {}
    for subject, msg_id, env in items:
        assert env.agent == AGENT
        assert subject.split(".")[3:] == [AGENT, env.conv] and subject.split(".")[2].isdigit()
        assert msg_id == subjects.inbound_msg_id(env.conv, env.envelope_id)
        by_conv.setdefault(env.conv, []).append(env.envelope_id)
    assert by_conv[subjects.group_conv(g1)] == node_g1 and len(node_g1) == 10
    assert by_conv[subjects.group_conv(g2)] == node_g2 and len(node_g2) == 2
    for conv in (subjects.group_conv(g1), subjects.group_conv(g2)):  # each names its predecessor (topics from 0)
        ids = by_conv[conv]
        assert [e.prev_id for _, _, e in items if isinstance(e, GroupEnvelope) and e.conv == conv] == [0, *ids[:-1]]
    welcomes = [e for _, _, e in items if isinstance(e, WelcomeEnvelope)]
    assert [w.data for w in welcomes] == [b"welcome-1", b"welcome-2"]
    assert welcomes[0].installation_key == installation.hex()
    cursors = buckets[subjects.KV_INGEST_CURSORS]
    assert await bus_kv.get_cursor(cursors, AGENT, subjects.group_conv(g1)) == node_g1[-1]

    # A restart, and one that lost a cursor (a crash before it was stored): republished envelopes are duplicates.
    await cursors.delete(subjects.kv_topic_key(AGENT, subjects.group_conv(g1)))
    async with running_ingest(node, settings) as again:
        await node.send_group_messages([group_message(g1)])
        await eventually(lambda: _at_least(js, 15))
        await eventually(lambda: _published_at_least(again, 11))  # all of g1 went out again
        await asyncio.sleep(0.3)
    assert await count(js) == 15


async def _at_least(js: JetStreamContext, n: int) -> bool:
    return await count(js) >= n


async def _published_at_least(ingest: Ingest, n: int) -> bool:
    worker = ingest.agents.get(AGENT)
    return worker is not None and worker.published >= n


async def test_an_envelope_over_the_caps_is_dead_lettered_and_passed(
    js: JetStreamContext, settings: BusSettings
) -> None:
    buckets = await ensure_buckets(js, settings)
    worker = AgentIngest(AGENT, os.urandom(32), None, js, buckets[subjects.KV_INGEST_CURSORS], settings)  # type: ignore[arg-type]
    group_id = os.urandom(16)
    conv = subjects.group_conv(group_id)
    big = GroupMessage(5, 1, group_id, b"\x00" * (schemas.MAX_ENVELOPE_BYTES + 1), b"", True, False)
    window: asyncio.Queue[Any] = asyncio.Queue()
    await worker._send(window, conv, big)
    await (await window.get()).ack
    assert await count(js) == 0
    msg = await js.get_last_msg(DLQ.name, "sb.dlq.ingest")
    letter = parse(schemas.DeadLetter, msg.data)
    assert letter.hop == "ingest" and letter.msg_id == subjects.inbound_msg_id(conv, 5) and "over" in letter.reason
    assert letter.payload_size == schemas.MAX_ENVELOPE_BYTES + 1 and len(letter.payload) == schemas.MAX_DEAD_PAYLOAD


async def test_cursors_are_written_under_a_steady_stream(settings: BusSettings) -> None:
    """The window never drains: the cursor is still stored every FLUSH_EVERY PubAcks (a crash republishes little)."""
    writes: list[tuple[str, int]] = []

    class Bucket:
        async def put(self, key: str, value: bytes) -> None:
            writes.append((key, parse(bus_kv.IngestCursor, value).cursor))

    worker = AgentIngest(AGENT, os.urandom(32), None, None, Bucket(), settings)  # type: ignore[arg-type]
    conv = subjects.group_conv(b"\x01")
    window: asyncio.Queue[Any] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    for envelope_id in range(1, FLUSH_EVERY + 45):
        ack = loop.create_future()
        ack.set_result(None)
        window.put_nowait(_Pending(conv, envelope_id, ack))
    acker = asyncio.create_task(worker._ack_in_order(window, {}))
    await eventually(lambda: _true(worker.published == FLUSH_EVERY + 44))
    acker.cancel()
    await asyncio.gather(acker, return_exceptions=True)
    key = subjects.kv_topic_key(AGENT, conv)
    assert writes == [(key, FLUSH_EVERY), (key, FLUSH_EVERY + 44)]


async def test_a_cancel_that_meets_a_puback_ends_the_acker(settings: BusSettings) -> None:
    """A stop that lands in the same loop turn as a PubAck still stops the acker. Python 3.11's `asyncio.wait_for`
    returned the result and dropped that cancellation, so the acker went back to its queue for ever and ingest's
    stop hung (the order/restart test above stalled about one run in four)."""
    worker = AgentIngest(AGENT, os.urandom(32), None, None, None, settings)  # type: ignore[arg-type]
    window: asyncio.Queue[Any] = asyncio.Queue()
    ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    window.put_nowait(_Pending(subjects.group_conv(b"\x01"), 1, ack))
    acker = asyncio.create_task(worker._ack_in_order(window, {}))
    for _ in range(5):  # until the acker waits on the PubAck
        await asyncio.sleep(0)
    assert window.empty() and not acker.done()
    ack.set_result(None)
    acker.cancel()
    done, _ = await asyncio.wait([acker], timeout=5)
    assert done and acker.cancelled()
    assert worker.published == 0


async def _true(value: bool) -> bool:
    return value


async def test_many_agents_share_one_group_stream_and_one_welcome_stream(
    js: JetStreamContext, node: NodeClient, settings: BusSettings
) -> None:
    # 80 agents, each with a welcome topic and a group: past devnode's 64 streams per connection and kind, which
    # one stream per agent hit (100 agents: a third never warmed).
    buckets = await ensure_buckets(js, settings)
    agents = {f"a{i}": (os.urandom(32), os.urandom(16)) for i in range(80)}
    for agent, (installation, group) in agents.items():
        record = bus_kv.AgentRecord(installation_key=installation.hex(), inbox_id="i")
        await bus_kv.put_agent(buckets[subjects.KV_AGENTS], agent, record)
        await bus_kv.put_topic(buckets[subjects.KV_TOPICS], agent, subjects.group_conv(group))
    async with running_ingest(node, settings) as ingest:
        await eventually(lambda: _all_live(ingest, len(agents)), within=60)
        for installation, group in agents.values():
            await node.send_group_messages([group_message(group)])
            await node.send_welcome_messages([NewWelcome(installation, b"w", b"pk", 1)])
        await eventually(lambda: _at_least(js, 2 * len(agents)), within=60)
        assert (ingest.streams.groups.streams, ingest.streams.welcomes.streams) == (1, 1)
    per_agent: dict[str, int] = {}
    for _, _, env in await stored(js):
        per_agent[env.agent] = per_agent.get(env.agent, 0) + 1
    assert per_agent == {agent: 2 for agent in agents}


async def _all_live(ingest: Ingest, n: int) -> bool:
    return len(ingest.agents) == n and all(worker._groups is not None for worker in ingest.agents.values())
