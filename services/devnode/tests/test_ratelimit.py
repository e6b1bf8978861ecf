"""devnode's per-client rate limits: a rolling window per client and kind (writes, reads), off by default,
RESOURCE_EXHAUSTED past the limit (read by the node client as NodeUnavailable: retry) with a `retry-after`
hint, streams not counted; the counters tests and benchmarks read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from devnode.main import RunningNode, start
from devnode.ratelimit import BUCKETS, MAX_CLIENTS, RateLimiter, RateLimits
from xmtp_core.node import NodeClient, NodeRejected, NodeUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_rolling_window_per_client_and_kind() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimits(writes=3, reads=5, window_s=30), clock)
    assert [limiter.allow("a", "write") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", "write")  # another client has its own window
    assert all(limiter.allow("a", "read") for _ in range(5)) and not limiter.allow("a", "read")
    clock.now += 29  # still inside the window (rolling: the first calls were 29 s ago)
    assert not limiter.allow("a", "write")
    clock.now += 1.5  # the slice of the first three calls has left the window
    assert limiter.allow("a", "write")
    assert limiter.refused == {"write": 2, "read": 1}
    clock.now += 10 * 30  # long idle: the window is empty again
    assert [limiter.allow("a", "write") for _ in range(4)] == [True, True, True, False]


def test_calls_spread_over_the_window_count_until_they_leave_it() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimits(writes=BUCKETS, reads=None, window_s=BUCKETS), clock)
    for _ in range(BUCKETS):  # one call per slice
        assert limiter.allow("a", "write")
        clock.now += 1
    assert limiter.allow("a", "write")  # the first slice just left
    assert not limiter.allow("a", "write")
    assert all(limiter.allow("a", "read") for _ in range(10_000))  # reads unlimited here


def test_the_tracked_clients_are_bounded() -> None:
    limiter = RateLimiter(RateLimits(writes=1, reads=1), Clock())
    for n in range(MAX_CLIENTS + 50):
        limiter.allow(f"ipv4:127.0.0.1:{n}" + "x" * 500, "write")
    assert len(limiter._clients) == MAX_CLIENTS
    assert all(len(client) <= 128 for client, _ in limiter._clients)


def test_off_unless_configured() -> None:
    assert RateLimits.from_env({}) is None
    assert RateLimits.from_env({"DEVNODE_RATE_LIMITS": "1"}) == RateLimits(3000, 20000, 300.0)
    assert RateLimits.from_env({"DEVNODE_WRITES_PER_WINDOW": "7", "DEVNODE_RATE_WINDOW_S": "2"}) == RateLimits(
        7, 20000, 2.0
    )


@pytest.fixture
async def limited_node(database_url: str) -> AsyncIterator[RunningNode]:
    node = await start("127.0.0.1:0", database_url, rate_limits=RateLimits(writes=3, reads=2, window_s=60))
    try:
        yield node
    finally:
        await node.stop(0)


async def test_past_the_limit_the_node_answers_resource_exhausted(limited_node: RunningNode) -> None:
    async with NodeClient.for_url(f"http://127.0.0.1:{limited_node.port}") as client:
        for _ in range(3):  # counted even when refused for what they hold
            with pytest.raises(NodeRejected):
                await client.send_group_messages([b"not an mls message"])
        with pytest.raises(NodeUnavailable) as exhausted:
            await client.send_group_messages([b"not an mls message"])
        assert exhausted.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED and exhausted.value.retryable
        assert exhausted.value.rate_limited
        # the three writes are in the current slice: it leaves the 60 s window in (58, 60] s
        assert exhausted.value.retry_after_s is not None and 58.0 < exhausted.value.retry_after_s <= 60.0
        assert (await client.query_group_messages(b"\x01" * 16)).items == []
        assert (await client.query_group_messages(b"\x01" * 16)).items == []
        with pytest.raises(NodeUnavailable):
            await client.query_group_messages(b"\x01" * 16)
    limiter = limited_node.limiter
    assert limiter is not None
    assert limiter.counted == {"write": 3, "read": 2} and limiter.refused == {"write": 1, "read": 1}
    [(peer, _)] = {key for key in limiter.tally() if key[1] == "write"}
    assert limiter.tally() == {(peer, "write"): (3, 1), (peer, "read"): (2, 1)}


def test_retry_after_is_when_enough_calls_leave_the_window() -> None:
    clock = Clock()  # 1000.0: slices of 2 s, 1000 is the start of one
    limiter = RateLimiter(RateLimits(writes=3, reads=None, window_s=2 * BUCKETS), clock)
    assert limiter.retry_after("a", "write") == 0.0
    limiter.allow("a", "write")
    clock.now += 5  # two slices on
    limiter.allow("a", "write")
    limiter.allow("a", "write")
    assert not limiter.allow("a", "write")
    # one call must leave: the first one's slice, which leaves the window a whole window after it began
    assert limiter.retry_after("a", "write") == pytest.approx(1000 + 2 * BUCKETS - clock.now)
    clock.now += limiter.retry_after("a", "write")
    assert limiter.allow("a", "write") and not limiter.allow("a", "write")
    assert limiter.retry_after("a", "read") == 0.0  # reads are not limited here


def test_counting_without_limits_refuses_nothing() -> None:
    limiter = RateLimiter(RateLimits(writes=None, reads=None), Clock())
    assert all(limiter.allow("a", "write") for _ in range(5000))
    assert limiter.allow("b", "read")
    assert limiter.counted == {"write": 5000, "read": 1} and limiter.refused == {"write": 0, "read": 0}
    assert limiter.tally() == {("a", "write"): (5000, 0), ("b", "read"): (1, 0)}
