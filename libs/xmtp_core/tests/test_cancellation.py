"""`raise_if_cancelling` finds a cancel request that a library swallowed, and only then."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from xmtp_core.cancellation import raise_if_cancelling


async def _swallowing_loop(checked: bool, turns: list[int]) -> None:
    while True:
        turns.append(1)
        with contextlib.suppress(asyncio.CancelledError):  # what 3.11's wait_for does to a cancel meeting a result
            await asyncio.sleep(0.01)
        if checked:
            raise_if_cancelling()
        if len(turns) > 50:
            return


@pytest.mark.parametrize("checked", [True, False])
async def test_a_swallowed_cancel_still_stops_a_checking_loop(checked: bool) -> None:
    turns: list[int] = []
    task = asyncio.create_task(_swallowing_loop(checked, turns))
    await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() is checked
    assert (len(turns) > 50) is not checked


async def test_no_cancel_request_passes() -> None:
    raise_if_cancelling()  # no cancel: nothing raised
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await asyncio.sleep(1)
    raise_if_cancelling()  # a timeout that fired and was handled leaves no request behind
