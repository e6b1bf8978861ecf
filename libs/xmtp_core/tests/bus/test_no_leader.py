"""`while_no_leader`: a JetStream call repeated while its stream has no leader (a NATS cluster electing one), and
only for that long. The whole path is run against a real 3-node cluster by `tests/chaos/test_cluster.py`."""

from __future__ import annotations

import pytest
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError
from xmtp_core.bus.leader import while_no_leader


async def test_repeated_until_the_stream_answers() -> None:
    calls: list[int] = []

    async def call() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise NoStreamResponseError if len(calls) == 1 else ServiceUnavailableError
        return "ack"

    assert await while_no_leader(call, within=5) == "ack"
    assert len(calls) == 3


async def test_gives_up_after_within_with_the_last_error() -> None:
    calls: list[int] = []

    async def call() -> str:
        calls.append(1)
        raise NoStreamResponseError

    with pytest.raises(NoStreamResponseError):
        await while_no_leader(call, within=0.6)
    assert 2 <= len(calls) <= 4


async def test_other_errors_are_not_repeated() -> None:
    calls: list[int] = []

    async def call() -> str:
        calls.append(1)
        raise ValueError("not a leader problem")

    with pytest.raises(ValueError):
        await while_no_leader(call, within=5)
    assert len(calls) == 1
