"""`publisher.service.send` without a network: retryable node errors are retried with backoff, a refusal is a
permanent result after one attempt, and a build that stays unavailable is handed back as `Transient`; a 429
(RESOURCE_EXHAUSTED) waits for the server's hint at the agent's pacer and is retried without using that budget."""

from __future__ import annotations

import grpc
import pytest
from publisher.service import RATE_LIMIT_PATIENCE_S, send
from xmtp_core.bus.runner import Transient
from xmtp_core.bus.schemas import GroupMessageOut, PublishRequest, WelcomeOut
from xmtp_core.node import BackoffPolicy, NodeRejected, NodeUnavailable, Pacer, RateLimit

FAST = BackoffPolicy(initial_s=0.001, maximum_s=0.002, max_retries=3)


class FakeNode:
    def __init__(self, errors: list[Exception]) -> None:
        self.errors = errors
        self.calls: list[tuple[str, int]] = []

    async def send_group_messages(self, messages: list[object]) -> None:
        self.calls.append(("group", len(messages)))
        if self.errors:
            raise self.errors.pop(0)

    async def send_welcome_messages(self, welcomes: list[object]) -> None:
        self.calls.append(("welcome", len(welcomes)))
        if self.errors:
            raise self.errors.pop(0)


def group_request() -> PublishRequest:
    return PublishRequest(
        agent="a",
        conv="gab",
        intent_id="i1",
        build=2,
        kind="group_message",
        group_messages=[GroupMessageOut(data=b"m")],
    )


def down() -> NodeUnavailable:
    return NodeUnavailable("SendGroupMessages", "down", grpc.StatusCode.UNAVAILABLE)


async def test_retryable_errors_are_retried() -> None:
    node = FakeNode([down(), down()])
    result = await send(node, group_request(), FAST)  # type: ignore[arg-type]
    assert (result.status, result.attempts, result.msg_id) == ("accepted", 3, "res:i1:2")
    assert node.calls == [("group", 1)] * 3


async def test_refusal_is_permanent_after_one_attempt() -> None:
    node = FakeNode([NodeRejected("SendGroupMessages", "bad\nframing\x00", grpc.StatusCode.INVALID_ARGUMENT)])
    result = await send(node, group_request(), FAST)  # type: ignore[arg-type]
    assert (result.status, result.attempts) == ("permanent", 1)
    assert result.error is not None and "\n" not in result.error and "\x00" not in result.error
    assert len(node.calls) == 1


async def test_a_node_that_stays_down_hands_the_build_back() -> None:
    node = FakeNode([down() for _ in range(10)])
    with pytest.raises(Transient):
        await send(node, group_request(), FAST)  # type: ignore[arg-type]
    assert len(node.calls) == 4  # the first try and max_retries retries


async def test_welcomes_go_to_send_welcome_messages() -> None:
    welcome = WelcomeOut(installation_key="aa" * 32, data=b"w", hpke_public_key=b"pk", wrapper_algorithm=1)
    request = PublishRequest(agent="a", conv="gab", intent_id="i2", build=0, kind="welcome", welcomes=[welcome] * 2)
    node = FakeNode([])
    assert (await send(node, request, FAST)).status == "accepted"  # type: ignore[arg-type]
    assert node.calls == [("welcome", 2)]


class Clock:
    """Fake time for the pacer: sleeping moves it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def exhausted(hint: float | None) -> NodeUnavailable:
    return NodeUnavailable("SendGroupMessages", "write limit", grpc.StatusCode.RESOURCE_EXHAUSTED, hint)


async def test_429s_wait_for_the_hint_and_never_use_up_the_retry_budget() -> None:
    clock = Clock()
    pacer = Pacer(RateLimit(100, 300.0, 3.0), clock=clock, sleep=clock.sleep)
    node = FakeNode([exhausted(30.0)] * 6)  # twice the transient budget of FAST
    result = await send(node, group_request(), FAST, pacer)  # type: ignore[arg-type]
    assert result.status == "accepted" and result.attempts == 7
    assert clock.now - 100.0 >= 6 * 30.0  # each retry waited at least the server's hint, at the pacer
    assert pacer.waited_s == pytest.approx(clock.now - 100.0)


async def test_a_429_without_hint_backs_off_and_past_the_patience_is_handed_back() -> None:
    clock = Clock()
    pacer = Pacer(RateLimit(100, 300.0, 3.0), clock=clock, sleep=clock.sleep)
    node = FakeNode([exhausted(None)] * 1000)
    with pytest.raises(Transient):
        await send(node, group_request(), FAST, pacer)  # type: ignore[arg-type]
    assert 5 < len(node.calls) < 30  # 1 s doubling to a minute: a bounded number of tries in the patience
    assert clock.now - 100.0 <= RATE_LIMIT_PATIENCE_S
