"""Write pacing under XMTP's rate limits, with a fake clock whose sleep moves time: no window ever holds more than
the limit, a steady load goes through at the limit, waits are counted, holds (429 hints) delay everything, and
nothing is ever refused; the env edge and the 429 hint parsing."""

from __future__ import annotations

import asyncio
import bisect

import grpc
import pytest
from xmtp_core.node import Pacer, Pacers, PacingEnvSettings, RateLimit, RollingWindow
from xmtp_core.node.errors import MAX_RETRY_AFTER_S, from_status, retry_after


class Clock:
    """Time that moves only when someone sleeps (every waiter's sleep is real asyncio scheduling)."""

    def __init__(self) -> None:
        self.now = 5000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def most_in_any_window(times: list[float], window_s: float) -> int:
    """The largest number of `times` inside any half-open interval of `window_s`."""
    ordered = sorted(times)
    return max(bisect.bisect_left(ordered, t + window_s) - i for i, t in enumerate(ordered))


def test_the_window_lets_the_limit_go_at_once_then_one_per_leaving_grant() -> None:
    window = RollingWindow(RateLimit(limit=3, window_s=10, margin_s=1))
    for t in (0.0, 0.5, 1.0):
        assert window.next_at(t) == t
        window.grant(t)
    assert window.next_at(2.0) == 11.0  # the first grant leaves window + margin after it
    window.grant(11.0)
    assert window.next_at(11.0) == 11.5


async def test_a_burst_is_spread_so_no_window_holds_more_than_the_limit() -> None:
    clock = Clock()
    limit = RateLimit(limit=30, window_s=10, margin_s=0.2)
    pacer = Pacer(limit, clock=clock, sleep=clock.sleep)
    granted = []
    for _ in range(200):
        await pacer.acquire()
        granted.append(clock.now)
    assert most_in_any_window(granted, limit.window_s) == 30
    assert most_in_any_window(granted, limit.window_s + limit.margin_s) == 30  # the margin holds too
    # the first 30 at once, then 30 per window + margin: the steady rate is the limit's
    assert granted[29] == granted[0]
    assert granted[-1] - granted[0] == pytest.approx(6 * 10.2)  # grant 199 is in the seventh batch
    assert pacer.waited_s == pytest.approx(granted[-1] - granted[0])


async def test_concurrent_callers_share_one_window_in_fifo_order() -> None:
    clock = Clock()
    heard: list[float] = []
    pacer = Pacer(RateLimit(limit=2, window_s=4, margin_s=0), clock=clock, sleep=clock.sleep, on_wait=heard.append)
    order: list[tuple[int, float]] = []

    async def caller(n: int) -> None:
        await pacer.acquire()
        order.append((n, clock.now))

    await asyncio.gather(*(caller(n) for n in range(7)))
    assert [n for n, _ in order] == list(range(7))
    assert most_in_any_window([t for _, t in order], 4) == 2
    assert len(heard) == 3 and sum(
        heard
    )  # callers 2, 4 and 6 each waited for a pair to leave == pytest.approx(pacer.waited_s)


async def test_a_hold_delays_every_next_call_without_dropping_any() -> None:
    clock = Clock()
    pacer = Pacer(RateLimit(limit=100, window_s=10, margin_s=0), clock=clock, sleep=clock.sleep)
    start = clock.now
    await pacer.acquire()
    pacer.hold(7.5)
    pacer.hold(1.0)  # a shorter hold does not shorten the first
    assert await pacer.acquire() == pytest.approx(7.5)
    assert clock.now - start == pytest.approx(7.5)
    assert await pacer.acquire() == 0.0


async def test_pacers_one_per_installation_bounded_and_off() -> None:
    clock = Clock()
    waits: list[tuple[str, float]] = []
    pacers = Pacers(
        RateLimit(limit=1, window_s=5, margin_s=0),
        clock=clock,
        sleep=clock.sleep,
        on_wait=lambda key, s: waits.append((key, s)),
        max_keys=3,
    )
    a, b = pacers.get("a"), pacers.get("b")
    assert a is pacers.get("a") and a is not b and a is not None and b is not None
    await a.acquire()
    await b.acquire()  # another installation has its own window: no wait
    await a.acquire()
    assert waits == [("a", 5.0)]
    for key in "cdef":
        pacers.get(key)
    assert len(pacers) == 3
    assert Pacers(None).get("a") is None


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SB_PACING", "SB_WRITES_PER_WINDOW", "SB_READS_PER_WINDOW", "SB_RATE_WINDOW_S", "SB_WRITE_SHARE"):
        monkeypatch.delenv(name, raising=False)
    network = PacingEnvSettings().to_config()
    assert network.writes == RateLimit(3000, 300.0, 3.0) and network.reads == RateLimit(20000, 300.0, 3.0)
    assert network.writes.rate == pytest.approx(3000 / 303)
    monkeypatch.setenv("SB_WRITES_PER_WINDOW", "30")
    monkeypatch.setenv("SB_RATE_WINDOW_S", "10")
    monkeypatch.setenv("SB_WRITE_SHARE", "2")
    assert PacingEnvSettings().to_config().writes == RateLimit(15, 10.0, 0.5)  # split between two replicas
    monkeypatch.setenv("SB_PACING", "0")
    assert PacingEnvSettings().to_config().writes is None


def test_a_429_and_its_hint() -> None:
    error = from_status(
        "SendGroupMessages", grpc.StatusCode.RESOURCE_EXHAUSTED, "limit", retry_after([("retry-after", "2.5")])
    )
    assert error.rate_limited and error.retryable and error.retry_after_s == 2.5
    assert not from_status("SendGroupMessages", grpc.StatusCode.UNAVAILABLE, "down").rate_limited
    assert retry_after([("x", "1")]) is None
    assert retry_after([("retry-after", b"soon")]) is None
    assert retry_after([("Retry-After", "nan")]) is None
    assert retry_after([("retry-after", "-3")]) == 0.0
    assert retry_after([("retry-after", "1e12")]) == MAX_RETRY_AFTER_S
