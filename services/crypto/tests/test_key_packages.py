"""Key package upkeep without a network: a join's rotation refused by the node (its 429) is owed and done by the
next round, not lost; with nothing owed the round rotates only what is due by expiry; a failing round does not
stop the loop."""

from __future__ import annotations

import asyncio

import pytest
from crypto.agents import Agent
from crypto.key_packages import keep_key_packages, keep_one, rotate_after_join
from xmtp_core.node import NodeUnavailable


class FakeRuntime:
    def __init__(self, failures: int = 0, due: bool = False) -> None:
        self.failures = failures
        self.due = due
        self.rotated = 0
        self.due_checks = 0
        self.rotated_once = asyncio.Event()

    async def rotate_key_package(self) -> None:
        if self.failures:
            self.failures -= 1
            raise NodeUnavailable("UploadKeyPackage", "write limit per 300s reached: retry later", retry_after_s=1.0)
        self.rotated += 1
        self.rotated_once.set()

    async def rotate_key_package_if_due(self) -> bool:
        self.due_checks += 1
        if self.due:
            self.rotated += 1
        return self.due


def _agent(runtime: FakeRuntime) -> Agent:
    return Agent("kp", runtime, "0x" + "ab" * 20)  # type: ignore[arg-type]


async def test_a_refused_rotation_after_a_join_is_owed_then_done() -> None:
    runtime = FakeRuntime(failures=1)
    agent = _agent(runtime)
    await rotate_after_join(agent)  # the node said 429: no exception, the envelope is done
    assert agent.rotation_owed and runtime.rotated == 0
    assert await keep_one(agent) is True
    assert not agent.rotation_owed and runtime.rotated == 1 and runtime.due_checks == 0


async def test_with_nothing_owed_only_a_due_rotation_happens() -> None:
    runtime = FakeRuntime()
    agent = _agent(runtime)
    await rotate_after_join(agent)
    assert not agent.rotation_owed and runtime.rotated == 1
    assert await keep_one(agent) is False and runtime.rotated == 1
    runtime.due = True
    assert await keep_one(agent) is True and runtime.rotated == 2


async def test_the_loop_goes_on_after_a_failed_round() -> None:
    runtime = FakeRuntime(failures=1)
    agent = _agent(runtime)
    agent.rotation_owed = True
    loop = asyncio.create_task(keep_key_packages({"kp": agent}, every_s=0.01))
    try:
        async with asyncio.timeout(5):
            await runtime.rotated_once.wait()
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    assert not agent.rotation_owed
