"""Publisher against a real devnode and NATS JetStream: a request is published once with one result; a publisher
killed between the send and the ack leaves one envelope on the node and one result; a refusal is a permanent
result, never retried."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import nats
import pytest
from nats.js import JetStreamContext
from nodekit import group_message
from publisher.service import Publisher
from xmtp_core.bus import subjects
from xmtp_core.bus.schemas import GroupMessageOut, PublishRequest, PublishResult, dump, parse
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import PUB, RES
from xmtp_core.node import BackoffPolicy, NodeClient

pytestmark = pytest.mark.integration
AGENT = "alice"
FAST = BackoffPolicy(initial_s=0.01, maximum_s=0.05, max_retries=2)


async def eventually(predicate: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while not await predicate():  # noqa: ASYNC110 - polling what another task publishes
            await asyncio.sleep(0.05)


def request(group_id: bytes, data: bytes, intent: str = "i1", build: int = 0) -> PublishRequest:
    return PublishRequest(
        agent=AGENT,
        conv=subjects.group_conv(group_id),
        intent_id=intent,
        build=build,
        kind="group_message",
        group_messages=[GroupMessageOut(data=data)],
    )


async def submit(js: JetStreamContext, req: PublishRequest) -> None:
    headers = {subjects.MSG_ID_HEADER: req.msg_id}
    await js.publish(subjects.publish(req.agent, req.conv), dump(req), stream=PUB.name, headers=headers)


async def results(js: JetStreamContext) -> list[PublishResult]:
    info = await js.stream_info(RES.name)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1 if info.state.messages else 0):
        msg = await js.get_msg(RES.name, seq)
        assert (msg.headers or {})[subjects.MSG_ID_HEADER].startswith("res:")
        out.append(parse(PublishResult, msg.data))
    return out


class Killed(Publisher):
    """Dies after the node accepted the envelope, before reporting (or before acking when `after_report`)."""

    def __init__(self, *args: object, after_report: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.after_report = after_report
        self.sent = asyncio.Event()

    async def report(self, result: PublishResult) -> None:
        if self.after_report:
            await super().report(result)
        self.sent.set()
        await asyncio.sleep(3600)


async def run_until(publisher: Publisher, done: Callable[[], Awaitable[bool]]) -> None:
    task = asyncio.create_task(publisher.run())
    try:
        await eventually(done)
        await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def node_copies(node: NodeClient, group_id: bytes) -> list[bytes]:
    return [m.data async for m in node.iter_group_messages(group_id)]


async def test_published_once_with_one_result(js: JetStreamContext, node: NodeClient, settings: BusSettings) -> None:
    group_id = os.urandom(16)
    req = request(group_id, group_message(group_id))
    await submit(js, req)
    await submit(js, req)  # a crypto republish: dropped by the stream
    publisher = Publisher(node, js, settings, policy=FAST)

    async def one_result() -> bool:
        return len(await results(js)) == 1

    await run_until(publisher, one_result)
    [res] = await results(js)
    assert (res.status, res.intent_id, res.build, res.attempts, res.error) == ("accepted", "i1", 0, 1, None)
    assert res.msg_id == "res:i1:0"
    assert await node_copies(node, group_id) == [req.group_messages[0].data]


@pytest.mark.parametrize("after_report", [False, True])
async def test_redelivery_after_a_kill_sends_once(
    js: JetStreamContext, node: NodeClient, settings: BusSettings, after_report: bool
) -> None:
    group_id = os.urandom(16)
    req = request(group_id, group_message(group_id))
    await submit(js, req)
    conn = await nats.connect(settings.nats_url)
    first = Killed(node, conn.jetstream(), settings, policy=FAST, after_report=after_report)
    task = asyncio.create_task(first.run())
    await asyncio.wait_for(first.sent.wait(), 10)
    await conn.close()  # killed: no ack, no nak reaches the server; redelivered after ack_wait
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    second = Publisher(node, js, settings, policy=FAST)

    async def handled() -> bool:
        return second.consumer.handled == 1

    await run_until(second, handled)
    assert await node_copies(node, group_id) == [req.group_messages[0].data]
    [res] = await results(js)
    assert res.status == "accepted"


async def test_refusal_is_permanent_and_not_retried(
    js: JetStreamContext, node: NodeClient, settings: BusSettings
) -> None:
    group_id = os.urandom(16)
    await submit(js, request(group_id, b"not an MLS message\n\x00forged"))
    publisher = Publisher(node, js, settings, policy=FAST)

    async def one_result() -> bool:
        return len(await results(js)) == 1

    await run_until(publisher, one_result)
    [res] = await results(js)
    assert res.status == "permanent" and res.attempts == 1
    assert res.error is not None and res.error.startswith("NodeRejected") and "\n" not in res.error
    assert publisher.consumer.handled == 1 and publisher.consumer.dead_lettered == 0
