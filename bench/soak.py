"""Memory under a steady load: the echo pipeline (ingest, crypto, router, publisher as processes, devnode as a
process of its own, private NATS and Postgres) answering `--rate` texts/s (default 200) for `--minutes`
(default 10) from `--senders` cheap sender installations (our own `xmtp_core` runtime, default 20, one DM with
the agent each: 20 conversations), sent round robin at a fixed schedule (a sender that falls behind catches up,
none skips).

One installation may write only 10 texts/s on the network, so 200/s means 20 senders; the agent's answers are
200 writes/s from one installation, which the network would refuse: this is a raw run (devnode's limits off,
the pipeline's pacer off, `SB_PACING=0`), about memory and queues, not limits (`bench/write_limit.py` is the
one at the limit).

Prints at the start, every minute and at the end: RSS per service (each process tree), devnode, nats-server and
Postgres (the postmaster and its backends), texts sent and answered so far (answered: publisher results on
SB_RES), and the row counts of the pipeline's tables (the ones that grow with traffic are pruned:
processed_envelopes, rejections; messages and the outbox are what crypto keeps by design) and of devnode's
(the node keeps every envelope, as the network does). If the pipeline cannot keep up, the answered count falls
behind the sent one: the rate it sustained is printed at the end.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 200] [--senders 20]      # make soak

Figures are printed, never asserted. RSS of Postgres is the postmaster and every backend, shared buffers counted
in each (an over-count; the pipeline's senders are backends too).

One run here, `--minutes 3`, on 2 cores shared with four other sessions (one was running 100 routers: load
average 10 at the start, past 100 at the end): 20 senders reached 387 texts in the first minute and 758 in
three (4.2/s, not 200/s: the senders' sends, each a Postgres transaction and a node query in this one Python
process, and the CPU the machine had left were the limit, not a queue), the pipeline answered 193 (1.1/s,
also starved). RSS MiB start -> minute 1 -> 2 -> 3: publisher 91 -> 93 -> 93 -> 93, crypto 132 -> 134 -> 136
-> 136, ingest 94 -> 94 -> 94 -> 94, router 91 -> 92 -> 92 -> 92, devnode 112 -> 111 -> 112 -> 111,
nats-server 24 -> 29 -> 32 -> 33, Postgres 780 -> 1210 -> 1280 -> 1300 (backends warming their caches).
Pipeline rows at minute 3: processed_envelopes 922, messages 917, outbox 734, intents 200 (pruning works on a
3 h horizon, so a 3-minute run shows growth, not the prune). That run was stopped by hand after minute 3: the
sender schedule then still owed the texts it had not reached (since fixed: senders stop at the end of the
load)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `bench/devnode.py` would shadow the devnode package: the test kit is taken from its folder instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
sys.path.append(str(ROOT / "bench"))

import asyncpg  # noqa: E402
import nats  # noqa: E402
import psutil  # noqa: E402
from loadkit import Sender, answered, at_rate, load_cli, new_database, rss_mib, say  # noqa: E402
from pipelinekit import SWITCHBOARD, Stack  # noqa: E402
from xmtp_core.pg_url import plain_pg_url  # noqa: E402

from switchboard.devservices import DevServices, free_port  # noqa: E402


@contextlib.contextmanager
def devnode_process(database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    log = open(Path("/tmp") / f"soak-devnode-{port}.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [SWITCHBOARD, "devnode", "--listen", f"127.0.0.1:{port}", "--database-url", database_url],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"devnode exited ({proc.returncode}), see {log.name}")
            time.sleep(0.1)
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


async def row_counts(database_url: str) -> dict[str, int]:
    """Rows per table of the database and of those named after it (crypto keeps one per agent: `<db>_<agent>`)."""
    admin = plain_pg_url(database_url)
    base = admin.rsplit("/", 1)[0]
    name = admin.rsplit("/", 1)[1]
    conn = await asyncpg.connect(admin)
    try:
        names = [
            r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", name + "%")
        ]
    finally:
        await conn.close()
    counts: dict[str, int] = {}
    for db in sorted(names):
        conn = await asyncpg.connect(f"{base}/{db}")
        try:
            tables = await conn.fetch(
                "SELECT schemaname, tablename FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
            )
            for t in tables:
                counts[t["tablename"]] = counts.get(t["tablename"], 0) + await conn.fetchval(
                    f'SELECT count(*) FROM "{t["schemaname"]}"."{t["tablename"]}"'
                )
        finally:
            await conn.close()
    return dict(sorted(counts.items()))


def memory(stack: Stack, devnode: subprocess.Popen[bytes], svc: DevServices) -> dict[str, float]:
    out = {f"{name}-{i}": rss_mib([p.pid]) for name, procs in stack.procs.items() for i, p in enumerate(procs)}
    out["devnode"] = rss_mib([devnode.pid])
    for proc in svc._procs:
        with contextlib.suppress(psutil.Error):
            out[psutil.Process(proc.pid).name()] = rss_mib([proc.pid])
    return out


async def report(label: str, stack: Stack, devnode: subprocess.Popen[bytes], svc: DevServices, dbs: dict[str, str],
                 sent: int, done: int) -> dict[str, float]:  # fmt: skip
    rss = memory(stack, devnode, svc)
    say(f"{label}: sent {sent}, answered {done}; RSS MiB " + ", ".join(f"{k} {v:.0f}" for k, v in rss.items()))
    for name, url in dbs.items():
        counts = await row_counts(url)
        say(f"{label}: {name} rows " + ", ".join(f"{t} {n}" for t, n in counts.items() if n))
    return rss


async def run(svc: DevServices, minutes: float, rate: float, senders_n: int) -> None:
    node_db = await new_database(svc.database_url, "soak_node")
    pipeline_db = await new_database(svc.database_url, "soak_pipeline")
    dbs = {"pipeline": pipeline_db, "devnode": node_db}
    raw = {"SB_PACING": "0", "LOG_LEVEL": "WARNING"}
    with devnode_process(node_db) as (devnode, url):
        async with (
            Stack.start(url, pipeline_db, svc.nats_url, partitions=8, extra_env=raw) as stack,
            contextlib.AsyncExitStack() as es,
        ):
            say(f"opening {senders_n} senders")
            senders = [
                await es.enter_async_context(Sender.open(url, await new_database(svc.database_url, "soak_sender")))
                for _ in range(senders_n)
            ]
            for s in senders:
                await s.open_dm(stack.agent_inbox_id)
            nc = await nats.connect(svc.nats_url)
            js = nc.jetstream()
            try:
                base = await answered(js)
                start_rss = await report("start", stack, devnode, svc, dbs, 0, 0)
                started = time.perf_counter()
                load = asyncio.create_task(at_rate(rate, minutes * 60, senders, "s"))
                for minute in range(1, int(minutes) + 1):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            asyncio.shield(load), max(0.0, started + 60 * minute - time.perf_counter())
                        )
                    stack.check_alive()
                    sent = sum(s.sent for s in senders)
                    await report(f"minute {minute}", stack, devnode, svc, dbs, sent, await answered(js) - base)
                sent_total = await load
                load_s = time.perf_counter() - started
                done = await answered(js) - base
                say(f"load over: {sent_total} sent in {load_s:.0f} s; draining")
                deadline = time.perf_counter() + 300
                while done < sent_total and time.perf_counter() < deadline:
                    stack.check_alive()
                    await asyncio.sleep(1.0)
                    done = await answered(js) - base
                total_s = time.perf_counter() - started
                end_rss = await report("end", stack, devnode, svc, dbs, sent_total, done)
            finally:
                await nc.close()
    print("| measurement | result |")
    print("| --- | --- |")
    print(f"| offered | {rate:g} texts/s for {minutes:g} min from {senders_n} senders: {sent_total} sent in "
          f"{load_s:.0f} s ({sent_total / load_s:.1f}/s sent) |")  # fmt: skip
    print(f"| answered | {done} of {sent_total} in {total_s:.0f} s ({done / total_s:.1f} echoes/s sustained) |")
    for name in start_rss:
        if name in end_rss:
            print(f"| RSS {name} | {start_rss[name]:.0f} MiB at start, {end_rss[name]:.0f} MiB at the end |")


def main() -> None:
    load_cli(__doc__ or "", run, minutes=10.0, rate=200.0, senders=20)


if __name__ == "__main__":
    main()
