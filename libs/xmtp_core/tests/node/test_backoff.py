"""Backoff schedule and the Subscription's reconnect logic, with a fake clock, fake sleep and scripted streams."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import grpc
import pytest
from xmtp_core.node import Backoff, BackoffPolicy, NodeRejected, NodeUnavailable, Subscription, retry


@dataclass(frozen=True)
class Env:
    topic: bytes
    id: int


HANG = object()  # script step: block until cancelled, like a quiet live stream


class FakeStream:
    def __init__(self, *script: object) -> None:
        self.script = list(script)
        self.cancelled = False

    async def read(self) -> Env | None:
        step = self.script.pop(0) if self.script else HANG
        if step is HANG:
            await asyncio.Event().wait()
        if isinstance(step, Exception):
            raise step
        assert step is None or isinstance(step, Env)
        return step

    def cancel(self) -> None:
        self.cancelled = True


class FakeNode:
    """Hands out scripted streams in order and records the cursors each one was opened with."""

    def __init__(self, *streams: FakeStream) -> None:
        self.streams = list(streams)
        self.opened: list[FakeStream] = []
        self.cursors: list[dict[bytes, int]] = []

    def open(self, cursors: Mapping[bytes, int]) -> FakeStream:
        self.cursors.append(dict(cursors))
        stream = self.streams.pop(0) if self.streams else FakeStream()
        self.opened.append(stream)
        return stream


class FakeTime:
    """A clock that only moves when slept on; sleeping records the delay."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay
        await asyncio.sleep(0)


def down(message: str = "connection refused") -> NodeUnavailable:
    return NodeUnavailable("SubscribeGroupMessages", message, grpc.StatusCode.UNAVAILABLE)


def subscription(
    node: FakeNode, time: FakeTime, policy: BackoffPolicy, cursors: dict[bytes, int] | None = None
) -> Subscription[Env]:
    return Subscription(
        node.open, cursors or {b"a": 0}, backoff=policy, sleep=time.sleep, clock=time.clock, rand=lambda: 0.0
    )


async def take(sub: Subscription[Env], n: int) -> list[Env]:
    return await asyncio.wait_for(_take(sub, n), 30)


async def _take(sub: Subscription[Env], n: int) -> list[Env]:
    return [await anext(sub) for _ in range(n)]


# --- the schedule itself ---


def test_schedule_doubles_up_to_the_cap_without_jitter() -> None:
    policy = BackoffPolicy(initial_s=0.5, maximum_s=5.0, multiplier=2.0, jitter=0.0)
    assert [policy.delay(n, 0.99) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_jitter_only_shortens_within_its_fraction() -> None:
    policy = BackoffPolicy(initial_s=1.0, maximum_s=8.0, jitter=0.25)
    assert policy.delay(3, 0.0) == 8.0
    assert policy.delay(3, 0.5) == 7.0
    assert policy.delay(0, 1.0) == 0.75
    assert policy.delay(10_000, 0.0) == 8.0  # a huge attempt count neither overflows nor passes the cap


def test_backoff_counts_failures_gives_up_and_resets() -> None:
    draws = iter([0.0, 0.5, 0.0, 0.0])
    backoff = Backoff(BackoffPolicy(initial_s=1.0, maximum_s=10.0, jitter=0.5, max_retries=3), lambda: next(draws))
    assert [backoff.next_delay(), backoff.next_delay(), backoff.next_delay()] == [1.0, 1.5, 4.0]
    assert backoff.next_delay() is None
    backoff.reset()
    assert backoff.next_delay() == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_s": 0},
        {"initial_s": 2, "maximum_s": 1},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"max_retries": 0},
        {"reset_after_s": -1},
    ],
)
def test_policy_rejects_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**kwargs)  # type: ignore[arg-type]


# --- the subscription's reconnect loop ---


async def test_reconnects_with_growing_delays_and_resumes_from_cursor() -> None:
    node = FakeNode(
        FakeStream(Env(b"a", 1), Env(b"a", 2), down()),
        FakeStream(down()),
        FakeStream(None),  # the node ended the stream cleanly: also a reconnect
        FakeStream(Env(b"a", 2), Env(b"a", 3)),  # a replay overlapping what was yielded
    )
    time = FakeTime()
    sub = subscription(node, time, BackoffPolicy(initial_s=1.0, maximum_s=60.0, jitter=0.5, reset_after_s=1e9))
    got = await take(sub, 3)
    assert [e.id for e in got] == [1, 2, 3]
    assert time.sleeps == [1.0, 2.0, 4.0]
    assert node.cursors == [{b"a": 0}, {b"a": 2}, {b"a": 2}, {b"a": 2}]
    assert all(s.cancelled for s in node.opened[:3])
    assert sub.reconnects == 3 and sub.opens == 4
    assert sub.cursors == {b"a": 3}


async def test_a_delivered_message_resets_the_backoff() -> None:
    node = FakeNode(FakeStream(down()), FakeStream(down()), FakeStream(Env(b"a", 5), down()), FakeStream(Env(b"a", 6)))
    time = FakeTime()
    sub = subscription(node, time, BackoffPolicy(initial_s=1.0, maximum_s=60.0, reset_after_s=1e9))
    assert [e.id for e in await take(sub, 2)] == [5, 6]
    assert time.sleeps == [1.0, 2.0, 1.0]


async def test_a_long_lived_stream_resets_the_backoff() -> None:
    time = FakeTime()

    class AgingStream(FakeStream):
        async def read(self) -> Env | None:
            time.now += 100.0  # this stream stayed up for 100 s before failing
            raise down()

    node = FakeNode(FakeStream(down()), FakeStream(down()), AgingStream(), FakeStream(Env(b"a", 1)))
    sub = subscription(node, time, BackoffPolicy(initial_s=1.0, maximum_s=60.0, reset_after_s=50.0))
    await take(sub, 1)
    assert time.sleeps == [1.0, 2.0, 1.0]


async def test_gives_up_after_max_retries() -> None:
    node = FakeNode(*(FakeStream(down(f"attempt {i}")) for i in range(10)))
    time = FakeTime()
    sub = subscription(node, time, BackoffPolicy(initial_s=1.0, maximum_s=60.0, max_retries=3))
    with pytest.raises(NodeUnavailable, match="attempt 3"):
        await take(sub, 1)
    assert time.sleeps == [1.0, 2.0, 4.0]
    assert len(node.opened) == 4
    with pytest.raises(StopAsyncIteration):
        await anext(sub)


async def test_rejection_is_raised_at_once() -> None:
    rejected = NodeRejected("SubscribeGroupMessages", "filters[0].group_id is empty", grpc.StatusCode.INVALID_ARGUMENT)
    node = FakeNode(FakeStream(Env(b"a", 1), rejected))
    time = FakeTime()
    sub = subscription(node, time, BackoffPolicy())
    assert [e.id for e in await take(sub, 1)] == [1]
    with pytest.raises(NodeRejected):
        await take(sub, 1)
    assert time.sleeps == []
    assert node.opened[0].cancelled


async def test_drops_duplicates_and_unknown_topics() -> None:
    node = FakeNode(FakeStream(Env(b"a", 4), Env(b"a", 3), Env(b"zzz", 9), Env(b"b", 2), Env(b"a", 4), Env(b"a", 7)))
    sub = subscription(node, FakeTime(), BackoffPolicy(), {b"a": 3, b"b": 0})
    assert [(e.topic, e.id) for e in await take(sub, 3)] == [(b"a", 4), (b"b", 2), (b"a", 7)]


async def test_topic_change_cancels_the_stream_and_reopens_with_every_cursor() -> None:
    node = FakeNode(FakeStream(Env(b"a", 1)), FakeStream(Env(b"b", 2), Env(b"a", 1), Env(b"a", 3)))
    time = FakeTime()
    sub = subscription(node, time, BackoffPolicy())
    assert [e.id for e in await take(sub, 1)] == [1]
    pending = asyncio.create_task(take(sub, 2))
    for _ in range(5):
        await asyncio.sleep(0)  # the first stream is now blocked in a live read
    assert not pending.done() and len(node.opened) == 1
    sub.add(b"b", 1)
    got = await pending
    assert [(e.topic, e.id) for e in got] == [(b"b", 2), (b"a", 3)]
    assert node.cursors == [{b"a": 0}, {b"a": 1, b"b": 1}]
    assert node.opened[0].cancelled
    assert time.sleeps == [] and sub.reconnects == 0


async def test_no_topics_waits_without_a_stream_until_one_is_added() -> None:
    node = FakeNode(FakeStream(Env(b"late", 1)))
    sub: Subscription[Env] = Subscription(node.open, {})
    pending = asyncio.create_task(take(sub, 1))
    await asyncio.sleep(0)
    assert node.opened == []
    sub.add(b"late")
    assert [e.topic for e in await pending] == [b"late"]


async def test_add_keeps_an_existing_cursor_and_set_topics_merges() -> None:
    sub: Subscription[Env] = Subscription(FakeNode().open, {b"a": 5})
    sub.add(b"a", 0)
    assert sub.cursors == {b"a": 5}
    sub.set_topics({b"a": 0, b"b": 2})
    assert sub.cursors == {b"a": 5, b"b": 2}
    sub.remove(b"a")
    assert sub.cursors == {b"b": 2}
    with pytest.raises(ValueError):
        sub.add(b"")
    with pytest.raises(ValueError):
        sub.add(b"c", -1)


# --- retrying one call ---


async def test_retry_retries_retryable_errors_then_returns() -> None:
    outcomes: list[object] = [down("1"), down("2"), "done"]
    time = FakeTime()

    async def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, str)
        return outcome

    policy = BackoffPolicy(initial_s=1.0, maximum_s=60.0, max_retries=5)
    assert await retry(call, policy, sleep=time.sleep, rand=lambda: 0.0) == "done"
    assert time.sleeps == [1.0, 2.0]


async def test_retry_gives_up_and_never_retries_rejections() -> None:
    time = FakeTime()
    calls = 0

    async def always_down() -> None:
        nonlocal calls
        calls += 1
        raise down(f"call {calls}")

    with pytest.raises(NodeUnavailable, match="call 3"):
        await retry(always_down, BackoffPolicy(max_retries=2), sleep=time.sleep, rand=lambda: 0.0)
    assert calls == 3 and len(time.sleeps) == 2

    async def rejected() -> None:
        raise NodeRejected("SendGroupMessages", "bad", grpc.StatusCode.INVALID_ARGUMENT)

    with pytest.raises(NodeRejected):
        await retry(rejected, BackoffPolicy(max_retries=2), sleep=time.sleep)
    assert len(time.sleeps) == 2


# --- the reader's own cancellation ---


class GatedStream(FakeStream):
    """Each read waits for the test to release one envelope."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: asyncio.Queue[Env] = asyncio.Queue()

    async def read(self) -> Env | None:
        return await self.queue.get()


async def test_a_cancelled_read_loses_nothing() -> None:
    stream = GatedStream()
    node = FakeNode(stream)
    sub = subscription(node, FakeTime(), BackoffPolicy())
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(sub), 0.01)  # the reader gives up waiting (e.g. a shutdown check)
    stream.queue.put_nowait(Env(b"a", 1))
    assert [e.id for e in await take(sub, 1)] == [1]
    assert len(node.opened) == 1 and not stream.cancelled


async def test_a_second_concurrent_reader_is_refused() -> None:
    sub = subscription(FakeNode(GatedStream()), FakeTime(), BackoffPolicy())
    first = asyncio.create_task(anext(sub))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="one reader"):
        await anext(sub)
    await sub.aclose()
    with pytest.raises(StopAsyncIteration):
        await first
