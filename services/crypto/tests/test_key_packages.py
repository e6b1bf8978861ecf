"""Key package upkeep without a network: a join's rotation refused by the node (its 429) does not fail the
envelope, and the next round does what the store says is owed; a failing round does not stop the loop. (That
the owed rotation is read from the store, across a restart: `test_runtime.py`.)"""

from __future__ import annotations

import asyncio

import pytest
from crypto.agents import Agent
from crypto.key_packages import keep_key_packages, rotate_after_join
from xmtp_core.node import NodeUnavailable


class FakeRuntime:
    """Owes one rotation (as the store would say after a join); refuses the first `failures` uploads."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.owed = True
        self.rotated = 0
        self.rotated_once = asyncio.Event()

    async def rotate_key_package_if_due(self) -> bool:
        if not self.owed:
            return False
        if self.failures:
            self.failures -= 1
            raise NodeUnavailable("UploadKeyPackage", "write limit per 300s reached: retry later", retry_after_s=1.0)
        self.owed = False
        self.rotated += 1
        self.rotated_once.set()
        return True


def _agent(runtime: FakeRuntime) -> Agent:
    return Agent("kp", runtime, "0x" + "ab" * 20)  # type: ignore[arg-type]


async def test_a_refused_rotation_after_a_join_does_not_fail_the_envelope() -> None:
    runtime = FakeRuntime(failures=1)
    await rotate_after_join(_agent(runtime))  # the node said 429: no exception, the envelope is done
    assert runtime.owed and runtime.rotated == 0
    await rotate_after_join(_agent(runtime))
    assert not runtime.owed and runtime.rotated == 1


async def test_the_loop_goes_on_after_a_failed_round() -> None:
    runtime = FakeRuntime(failures=1)
    loop = asyncio.create_task(keep_key_packages({"kp": _agent(runtime)}, every_s=0.01))
    try:
        async with asyncio.timeout(5):
            await runtime.rotated_once.wait()
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    assert not runtime.owed and runtime.rotated == 1
