"""The echo agent through the whole pipeline (ingest, crypto, router, publisher as processes) against a devnode
that enforces a small write limit (10 writes per 20 s per connection, reads counted, not limited), with the
pipeline's pacer at the same limit: a burst of 20 texts from 5 sender installations, twice what one window
allows the agent to write, is answered in full and in order, devnode refuses nothing (zero 429s; without the
pacer it refuses some), and no 18 s of the node's own timestamps holds more than 10 of the agent's answers.
Prints the node calls per echo of the pipeline's processes (steady-state reads are streams: subscriptions are
not counted)."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import nats
import pytest
from devnode.main import RunningNode, start
from devnode.ratelimit import RateLimits

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
sys.path.insert(0, str(ROOT / "bench"))
from loadkit import Sender, answered, calls_by, port_owners, say  # noqa: E402
from pipelinekit import Stack  # noqa: E402

from switchboard.devservices import DevServices  # noqa: E402

pytestmark = pytest.mark.integration
# A window long enough that 20 answers come in less than it even on a slow machine: unpaced, this test fails.
WRITES, WINDOW_S = 10, 20.0
SENDERS, PER_SENDER = 5, 4  # each sender's own writes (4 to register and open its DM, 4 texts) stay under the limit


@pytest.fixture
async def limited_node(database_url: str) -> AsyncIterator[RunningNode]:
    node = await start(
        "127.0.0.1:0", database_url, rate_limits=RateLimits(writes=WRITES, reads=None, window_s=WINDOW_S)
    )
    try:
        yield node
    finally:
        await node.stop(1.0)


def most_in_any_window(times_ns: list[int], window_s: float) -> int:
    ordered = sorted(times_ns)
    span = int(window_s * 1e9)
    return max(bisect.bisect_left(ordered, t + span) - i for i, t in enumerate(ordered))


async def eventually(check: Callable[[], bool], within: float, also: Callable[[], Awaitable[None]]) -> None:
    async with asyncio.timeout(within):
        while not check():
            await also()
            await asyncio.sleep(0.2)


async def test_a_burst_above_the_write_limit_is_answered_paced_with_no_429(
    limited_node: RunningNode, database_url: str, new_database: Callable[[], Awaitable[str]], services: DevServices
) -> None:
    url = f"http://127.0.0.1:{limited_node.port}"
    limiter = limited_node.limiter
    assert limiter is not None
    pace = {"SB_WRITES_PER_WINDOW": str(WRITES), "SB_RATE_WINDOW_S": str(WINDOW_S)}
    async with (
        Stack.start(url, database_url, services.nats_url, extra_env=pace) as stack,
        open_senders(url, new_database) as senders,
    ):
        say("stack and senders up")
        nc = await nats.connect(services.nats_url)
        listeners: list[asyncio.Task[None]] = []
        try:
            await asyncio.gather(*(sender.open_dm(stack.agent_inbox_id) for sender in senders))
            listeners = [asyncio.create_task(sender.listen(stack.agent_inbox_id)) for sender in senders]
            before, results_before = dict(limiter.tally()), await answered(nc.jetstream())
            methods_before = limiter.methods.copy()

            async def texts(sender: Sender, index: int) -> None:
                for n in range(PER_SENDER):
                    await sender.send(f"s{index} m{n}")

            say("DMs open; burst")
            await asyncio.gather(*(texts(s, i) for i, s in enumerate(senders)))
            say("burst sent")
            await eventually(lambda: all(len(s.answers) >= PER_SENDER for s in senders), 120, stack_alive(stack))
            say("all answered")
            results = await answered(nc.jetstream()) - results_before
            methods = limiter.methods - methods_before
            ports = port_owners(p.pid for ps in stack.procs.values() for p in ps)
        finally:
            for task in listeners:
                task.cancel()
            await asyncio.gather(*listeners, return_exceptions=True)
            await nc.close()
    for index, sender in enumerate(senders):
        assert [text for text, _ in sender.answers] == [f"echo: s{index} m{n}" for n in range(PER_SENDER)]
    assert limiter.refused == {"write": 0, "read": 0}, limiter.refused
    answer_times = [ns for s in senders for _, ns in s.answers]
    assert len(answer_times) == SENDERS * PER_SENDER > WRITES
    # Spread over the windows: paced. devnode stamps a message when its batched writer stores it, up to a moment
    # after the call was counted, so the stamps are checked over a window a little shorter than the limiter's.
    assert most_in_any_window(answer_times, WINDOW_S - 2) <= WRITES
    pipeline = {p.pid for ps in stack.procs.values() for p in ps}
    delta = {key: (calls - before.get(key, (0, 0))[0], 0) for key, (calls, _) in limiter.tally().items()}
    used = calls_by(delta, ports, pipeline)
    echoes = SENDERS * PER_SENDER
    print(
        f"{echoes} texts, {results} results; pipeline node calls per echo: "
        f"{used['write'] / echoes:.2f} writes, {used['read'] / echoes:.2f} reads; 429s: {limiter.refused}; "
        f"all node calls in the burst by method: {dict(methods)}"
    )
    assert used["write"] >= echoes  # the connections were found: every answer is one write


def stack_alive(stack: Stack) -> Callable[[], Awaitable[None]]:
    async def check() -> None:
        stack.check_alive()

    return check


@contextlib.asynccontextmanager
async def open_senders(url: str, new_database: Callable[[], Awaitable[str]]) -> AsyncIterator[list[Sender]]:
    """`SENDERS` sender installations, each on a database of its own."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(Sender.open(url, await new_database())) for _ in range(SENDERS)]
