"""The echo agent at its write limit: a load at (or above) XMTP's per-installation write rate (3,000 per rolling
5 minutes = 10 writes/s) for 10 minutes, against a devnode enforcing the network's limits (3,000 writes / 20,000
reads per 5 minutes per connection), the pipeline pacing at the same limits (`xmtp_core.node.pacing`).
`--writes` / `--reads` scale both down together (for a machine where the pipeline cannot reach 10 echoes/s: the
pacer must be what holds the answers back, not the CPU). Cheap senders (our own `xmtp_core` runtime,
`--senders` installations, each on its own connection and well under its own limit) send round robin at
`--rate` texts/s; each answer is decrypted by its sender.

Prints every minute the texts sent and answered and devnode's refusals; at the end: texts sent and answered (and
how long after the load the last answer came), the 429s devnode answered (all clients, and the pipeline's), the
pipeline's node writes and reads per echo (devnode's counters, given to the processes that hold the connections
to it; subscriptions are not counted), and the most answers the node stamped in any 5 minutes.

    .venv/bin/python bench/write_limit.py [--minutes 10] [--rate 10] [--senders 10] [--writes 3000] [--reads 20000]
    make write-limit        # --rate 11: 10% over the limit, so the pacer holds answers back twice in 10 min

Figures are printed, never asserted. The 10-minute run (2 Dec 2026, 16:31-16:43 UTC; 2 cores shared with other
sessions, load average 3.4 at the start, 4.7-6.8 during the load, 8.7 at the end), `--minutes 10 --rate 11
--senders 10`, the network's real limits (the pipeline reached them: no scaling down was needed): 6,600 texts
sent in 600 s (11.00/s); the pacer let the first 3,000 answers go as they came (answered 3,000 at 300 s while
3,300 were sent), held the rest until the window had room (5,566 answered at 540 s, 6,000 at 600 s), and the last
answer came 77 s after the load; 6,600 of 6,600 answered, 6,600 publisher results; zero 429s from devnode for
any client; the most answers stamped by the node in any 300 s: 3,000 (the limit). Node calls per echo: the run
printed 1.100 writes and 1.100 reads (7,260 / 7,260), but the extra 660 are exactly one sender's texts (each of
the 10 sent 660, one write and one read each): one sender's connection to devnode shared its local port with a
pipeline process's connection elsewhere and was counted as the pipeline's; so 1.000 writes and 1.000 reads per
echo (the read: crypto pulls the group once per send). `port_owners` now keeps only connections to devnode; a
30-s check after the fix printed 1.000 / 1.000."""

from __future__ import annotations

import argparse
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
from devnode.ratelimit import RateLimiter, RateLimits  # noqa: E402
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


def limit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--writes", type=int, default=RateLimits().writes,
                        help="writes per 5 minutes per client, for devnode and the pipeline's pacer alike")  # fmt: skip
    parser.add_argument("--reads", type=int, default=RateLimits().reads, help="reads per 5 minutes, likewise")


async def progress(senders: list[Sender], limiter: RateLimiter, every_s: float = 60.0) -> None:
    """Until cancelled: every `every_s`, the texts sent and answered so far and devnode's refusals."""
    started = time.perf_counter()
    while True:
        await asyncio.sleep(every_s)
        say(f"{time.perf_counter() - started:.0f} s: sent {sum(s.sent for s in senders)}, answered "
            f"{sum(len(s.answers) for s in senders)}, devnode refused {dict(limiter.refused)}")  # fmt: skip


async def run(svc: DevServices, minutes: float, rate: float, senders_n: int, *, writes: int, reads: int) -> None:
    node_db = await new_database(svc.database_url, "wl_node")
    limits = RateLimits(writes=writes, reads=reads, window_s=WINDOW_S)
    devnode = await start("127.0.0.1:0", node_db, rate_limits=limits)
    limiter = devnode.limiter
    assert limiter is not None
    url = f"http://127.0.0.1:{devnode.port}"
    try:
        pacing = {
            "SB_WRITES_PER_WINDOW": str(writes),
            "SB_READS_PER_WINDOW": str(reads),
            "SB_RATE_WINDOW_S": str(WINDOW_S),
        }
        async with (
            Stack.start(url, node_db, svc.nats_url, partitions=8, extra_env=pacing) as stack,
            contextlib.AsyncExitStack() as es,
        ):
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
                say(f"load: {rate:g} texts/s for {minutes:g} min from {senders_n} senders; limit {writes} writes, "
                    f"{reads} reads per {WINDOW_S:.0f} s")  # fmt: skip
                started = time.perf_counter()
                watch = asyncio.create_task(progress(senders, limiter))
                try:
                    sent = await at_rate(rate, minutes * 60, senders, "t")
                    load_s = time.perf_counter() - started
                    say(f"{sent} sent in {load_s:.0f} s; waiting for the answers")
                    await drain(lambda: sum(len(s.answers) for s in senders), sent, stack)
                finally:
                    watch.cancel()
                drained_s = time.perf_counter() - started - load_s
                results = await answered(nc.jetstream()) - results0
                ports = port_owners((p.pid for ps in stack.procs.values() for p in ps), devnode.port)
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
          f"(limit {writes}) |")  # fmt: skip


def main() -> None:
    load_cli(__doc__ or "", run, minutes=10.0, rate=10.0, senders=10, more=limit_options)


if __name__ == "__main__":
    main()
