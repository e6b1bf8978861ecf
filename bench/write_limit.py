"""The echo agent at its write limit: a load at XMTP's per-installation write rate (3,000 per rolling 5 minutes =
10 writes/s) for 10 minutes, against a devnode enforcing the network's real limits (3,000 writes / 20,000
reads per 5 minutes per connection), the pipeline pacing at its defaults (the same limits, `xmtp_core.node.
pacing`). Cheap senders (our own `xmtp_core` runtime, `--senders` installations, each on its own connection and
well under its own limit) send round robin at `--rate` texts/s; each answer is decrypted by its sender.

Prints: texts sent and answered (and how long after the load the last answer came), the 429s devnode answered
(all clients, and the pipeline's), the pipeline's node writes and reads per echo (devnode's counters, given to
the processes that hold the connections; subscriptions are not counted), and the most answers the node stamped
in any 5 minutes.

    .venv/bin/python bench/write_limit.py [--minutes 10] [--rate 10] [--senders 10]      # make write-limit

Figures are printed, never asserted. One run here (2 cores shared with four other sessions' benchmarks and
tests, load average 10-15), `--minutes 2 --senders 5`: the senders reached only 2.2 texts/s (1,200 sent in
538 s: each send waits on its own Postgres and a node query, and the CPU was taken), so this was not yet a
load at the write limit; 1,188 answered within the 120 s the drain then allowed (the rest were still in the
pipeline, which was as starved), zero 429s from devnode for any client, 1.000 writes and 1.001 reads per echo
by the pipeline's processes (the read: crypto queries the group once per send), at most 783 answers in any
5 minutes. On a machine of its own, use more senders if they cannot reach the rate."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `bench/devnode.py` would shadow the devnode package: the test kit is taken from its folder instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
sys.path.append(str(ROOT / "bench"))

import nats  # noqa: E402
from devnode.main import start  # noqa: E402
from devnode.ratelimit import RateLimits  # noqa: E402
from loadkit import Sender, answered, at_rate, calls_by, load_cli, new_database, port_owners, say  # noqa: E402
from pipelinekit import Stack  # noqa: E402

from switchboard.devservices import DevServices  # noqa: E402

WINDOW_S = 300.0


async def drain(count: Callable[[], int], target: int, stack: Stack, stall_s: float = 120.0) -> None:
    """Until `count()` reaches `target`, or made no progress for `stall_s`."""
    last, since = count(), time.perf_counter()
    while last < target and time.perf_counter() - since < stall_s:
        stack.check_alive()
        await asyncio.sleep(0.5)
        if (now := count()) > last:
            last, since = now, time.perf_counter()


def most_in_any_window(times_ns: list[int], window_s: float) -> int:
    ordered = sorted(times_ns)
    span = int(window_s * 1e9)
    return max((bisect.bisect_left(ordered, t + span) - i for i, t in enumerate(ordered)), default=0)


async def run(svc: DevServices, minutes: float, rate: float, senders_n: int) -> None:
    node_db = await new_database(svc.database_url, "wl_node")
    devnode = await start("127.0.0.1:0", node_db, rate_limits=RateLimits())  # the network's limits
    limiter = devnode.limiter
    assert limiter is not None
    url = f"http://127.0.0.1:{devnode.port}"
    try:
        async with Stack.start(url, node_db, svc.nats_url, partitions=8) as stack, contextlib.AsyncExitStack() as es:
            senders = [
                await es.enter_async_context(Sender.open(url, await new_database(svc.database_url, "wl_sender")))
                for _ in range(senders_n)
            ]
            await asyncio.gather(*(s.open_dm(stack.agent_inbox_id) for s in senders))
            listeners = [asyncio.create_task(s.listen(stack.agent_inbox_id)) for s in senders]
            nc = await nats.connect(svc.nats_url)
            try:
                await asyncio.sleep(2.0)
                before, results0 = dict(limiter.tally()), await answered(nc.jetstream())
                refused0 = dict(limiter.refused)
                say(f"load: {rate:g} texts/s for {minutes:g} min from {senders_n} senders")
                started = time.perf_counter()
                sent = await at_rate(rate, minutes * 60, senders, "t")
                load_s = time.perf_counter() - started
                say(f"{sent} sent in {load_s:.0f} s; waiting for the answers")
                await drain(lambda: sum(len(s.answers) for s in senders), sent, stack)
                drained_s = time.perf_counter() - started - load_s
                results = await answered(nc.jetstream()) - results0
                ports = port_owners(p.pid for ps in stack.procs.values() for p in ps)
                pids = {p.pid for ps in stack.procs.values() for p in ps}
                after = limiter.tally()
            finally:
                for task in listeners:
                    task.cancel()
                await asyncio.gather(*listeners, return_exceptions=True)
                await nc.close()
    finally:
        await devnode.stop()
    delta = {k: (c - before.get(k, (0, 0))[0], r - before.get(k, (0, 0))[1]) for k, (c, r) in after.items()}
    pipeline = calls_by(delta, ports, pids)
    got = sum(len(s.answers) for s in senders)
    refused = {k: v - refused0[k] for k, v in limiter.refused.items()}
    stamps = [ns for s in senders for _, ns in s.answers]
    print("| measurement | result |")
    print("| --- | --- |")
    print(f"| load | {rate:g} texts/s offered for {minutes:g} min from {senders_n} sender installations: {sent} sent "
          f"in {load_s:.0f} s ({sent / load_s:.2f}/s reached) |")  # fmt: skip
    print(f"| answered | {got} of {sent} (last {drained_s:.1f} s after the load ended); {results} publisher results |")
    print(f"| 429s answered by devnode during the load | all clients: {refused}; the pipeline's: "
          f"{pipeline['write_refused']} writes, {pipeline['read_refused']} reads |")  # fmt: skip
    echoes = max(got, 1)
    print(f"| pipeline node calls per echo | {pipeline['write'] / echoes:.3f} writes, "
          f"{pipeline['read'] / echoes:.3f} reads ({pipeline['write']} / {pipeline['read']}) |")  # fmt: skip
    print(f"| most answers in any {WINDOW_S:.0f} s (node timestamps) | {most_in_any_window(stamps, WINDOW_S)} "
          f"(limit {RateLimits().writes}) |")  # fmt: skip


def main() -> None:
    load_cli(__doc__ or "", run, minutes=10.0, rate=10.0, senders=10)


if __name__ == "__main__":
    main()
