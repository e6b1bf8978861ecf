"""Against a devnode that enforces a low per-client write limit, the publisher paces its sends: a burst of
envelopes for one conversation is stretched over the windows the limit allows, every one reaches the node once and
in order, each with an `accepted` result; nothing is dropped or dead-lettered."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from devnode.main import RunningNode, start
from devnode.ratelimit import RateLimits
from nats.js import JetStreamContext
from nodekit import group_message
from publisher.service import Publisher
from xmtp_core.bus.settings import BusSettings
from xmtp_core.node import BackoffPolicy, NodeClient

sys.path.insert(0, str(Path(__file__).parent))
from test_publisher import node_copies, request, results, run_until, submit

pytestmark = pytest.mark.integration
WRITES, WINDOW_S, BURST = 3, 2.0, 9


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[NodeClient]:
    limits = RateLimits(writes=WRITES, reads=None, window_s=WINDOW_S)
    node: RunningNode = await start("127.0.0.1:0", database_url, rate_limits=limits)
    try:
        async with NodeClient.for_url(f"http://127.0.0.1:{node.port}") as client:
            yield client
    finally:
        await node.stop(0)


async def test_a_burst_past_the_write_limit_is_delayed_not_dropped(
    js: JetStreamContext, settings: BusSettings, limited: NodeClient
) -> None:
    client = limited
    group_id = os.urandom(16)
    sent = [request(group_id, group_message(group_id), intent=f"i{n}") for n in range(BURST)]
    for req in sent:
        await submit(js, req)
    publisher = Publisher(client, js, settings, policy=BackoffPolicy(initial_s=0.1, maximum_s=0.5, max_retries=3))

    async def all_reported() -> bool:
        return len(await results(js)) == BURST

    started = time.monotonic()
    await run_until(publisher, all_reported)
    elapsed = time.monotonic() - started
    assert [r.status for r in await results(js)] == ["accepted"] * BURST
    assert [r.intent_id for r in await results(js)] == [f"i{n}" for n in range(BURST)]
    assert await node_copies(client, group_id) == [r.group_messages[0].data for r in sent]
    assert publisher.consumer.dead_lettered == 0
    # 9 writes at 3 per 2 s cannot all land in less than two windows: the sends were paced.
    assert elapsed >= 0.9 * (BURST // WRITES - 1) * WINDOW_S, elapsed
    print(f"{BURST} sends at {WRITES} writes per {WINDOW_S:.0f}s: {elapsed:.1f}s")
