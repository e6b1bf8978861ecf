"""JetStream calls repeated while their stream has no leader.

A NATS cluster elects a new stream (or meta) leader for a few seconds after the leader's server died; meanwhile
a publish, a KV put or a stream API call answers "no stream response", 503 (no responders) or times out. The
same call again succeeds once there is a leader. Only idempotent calls belong here: a publish with a
`Nats-Msg-Id` (a repeat whose first copy got through is dropped as a duplicate), a KV put of the same value,
a stream's info / create / update to the same configuration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.errors import NoStreamResponseError, ServiceUnavailableError

T = TypeVar("T")
NO_LEADER: Final = (NoStreamResponseError, ServiceUnavailableError, NatsTimeoutError)
NO_LEADER_RETRY_S: Final = 0.25


async def while_no_leader(call: Callable[[], Awaitable[T]], *, within: float) -> T:
    """`call()` again while it fails with `NO_LEADER`, for at most `within` seconds (then the last error)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            return await call()
        except NO_LEADER:
            if loop.time() + NO_LEADER_RETRY_S > deadline:
                raise
        await asyncio.sleep(NO_LEADER_RETRY_S)
