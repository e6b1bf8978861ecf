"""Against a devnode that enforces a low per-client write limit: with the publisher's pacer at the same limit a
burst past it is stretched over the windows and devnode refuses nothing; with pacing off the 429s come, each is
retried after devnode's `retry-after` hint, and nothing is dropped either. Both: every envelope reaches the node
once and in order with an `accepted` result, nothing dead-lettered."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from devnode.main import RunningNode, start
from devnode.ratelimit import RateLimits
from nats.js import JetStreamContext
from nodekit import group_message
from publisher.service import RATE_LIMITED_TOTAL, WRITE_WAIT, Publisher, write_pacers
from xmtp_core.bus.settings import BusSettings
from xmtp_core.node import BackoffPolicy, NodeClient, Pacers, RateLimit

sys.path.insert(0, str(Path(__file__).parent))
from test_publisher import AGENT, node_copies, request, results, run_until, submit

pytestmark = pytest.mark.integration
WRITES, WINDOW_S, BURST = 3, 2.0, 9


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[tuple[RunningNode, NodeClient]]:
    limits = RateLimits(writes=WRITES, reads=None, window_s=WINDOW_S)
    node: RunningNode = await start("127.0.0.1:0", database_url, rate_limits=limits)
    try:
        async with NodeClient.for_url(f"http://127.0.0.1:{node.port}") as client:
            yield node, client
    finally:
        await node.stop(0)


async def burst(js: JetStreamContext, settings: BusSettings, client: NodeClient, pacers: Pacers) -> Publisher:
    group_id = os.urandom(16)
    sent = [request(group_id, group_message(group_id), intent=f"i{n}") for n in range(BURST)]
    for req in sent:
        await submit(js, req)
    policy = BackoffPolicy(initial_s=0.1, maximum_s=0.5, max_retries=3)
    publisher = Publisher(client, js, settings, policy=policy, pacers=pacers)

    async def all_reported() -> bool:
        return len(await results(js)) == BURST

    await run_until(publisher, all_reported)
    assert [r.status for r in await results(js)] == ["accepted"] * BURST
    assert [r.intent_id for r in await results(js)] == [f"i{n}" for n in range(BURST)]
    assert await node_copies(client, group_id) == [r.group_messages[0].data for r in sent]
    assert publisher.consumer.dead_lettered == 0
    return publisher


def metric(counter: object) -> float:
    return float(counter.labels(AGENT)._value.get())  # type: ignore[attr-defined]


async def test_paced_at_the_limit_a_burst_gets_no_429(
    js: JetStreamContext, settings: BusSettings, limited: tuple[RunningNode, NodeClient]
) -> None:
    node, client = limited
    waited, limited_before = metric(WRITE_WAIT), metric(RATE_LIMITED_TOTAL)
    pacers = write_pacers(RateLimit(WRITES, WINDOW_S, margin_s=0.2))
    publisher = await burst(js, settings, client, pacers)
    assert node.limiter is not None
    assert node.limiter.refused["write"] == 0 and node.limiter.counted["write"] == BURST
    assert metric(RATE_LIMITED_TOTAL) == limited_before
    pacer = publisher.pacers.get(AGENT)
    assert pacer is not None and pacer.waited_s > 0  # the burst waited for the window, at the pacer
    assert metric(WRITE_WAIT) - waited == pytest.approx(pacer.waited_s)


async def test_unpaced_429s_are_retried_after_the_hint_never_dropped(
    js: JetStreamContext, settings: BusSettings, limited: tuple[RunningNode, NodeClient]
) -> None:
    node, client = limited
    limited_before = metric(RATE_LIMITED_TOTAL)
    await burst(js, settings, client, write_pacers(None))
    assert node.limiter is not None
    refused = node.limiter.refused["write"]
    assert refused > 0 and node.limiter.counted["write"] == BURST
    assert metric(RATE_LIMITED_TOTAL) - limited_before == refused  # every 429 seen and retried
    print(f"{BURST} unpaced sends at {WRITES} writes per {WINDOW_S:.0f}s: {refused} answered 429, all retried")
