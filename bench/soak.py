"""Memory under a steady load: the echo pipeline (ingest, crypto, router, publisher as processes, devnode as a
process of its own, private NATS and Postgres) offered `--rate` texts/s (default 200) for `--minutes` (default 10)
by `--senders` cheap sender installations (our own `xmtp_core` runtime, default 40, one DM with the agent each)
spread over `--procs` OS processes (default 4: one Python process reached only ~4 texts/s, each send being a
pull, an encryption, a Postgres transaction and a node call), round robin at a fixed schedule (a sender that
falls behind sends back to back, and stops at the end of the load: what it could not send shows as a rate
below `--rate`). Each sender process (`soak.py senders ...`, driven over its stdin and stdout) holds its
installations, their node connections and their databases.

One installation may write only 10 texts/s on the network, so 200/s needs at least 20 senders; the agent's
answers are 200 writes/s from one installation, which the network would refuse: this is a raw run (devnode's
limits off, the pipeline's pacer off, `SB_PACING=0`), about memory, queues and loss, not limits
(`bench/write_limit.py` is the one at the limit). The pipeline's capacity is far below 200 echoes/s today, so a
backlog builds: the question is whether memory stays flat (bounded queues; the backlog waits on the node and in
JetStream, not in a process) and whether anything is lost.

Prints at the start, every minute of the load and of the drain, and at the end: texts sent, answered (publisher
results on SB_RES) and the backlog between them; RSS per service (each process tree), devnode, nats-server,
Postgres (the postmaster and its backends) and the sender processes; per JetStream stream, what its consumers
have yet to take or acknowledge; the row counts of the pipeline's tables and of devnode's. After the load it
drains for up to `--drain` minutes (default 20), then each sender pulls its DM and counts the agent's answers
per text it sent (once, more than once, not yet), and a table sums it up (RSS at start, middle, end).

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 200] [--senders 40] [--procs 4] [--drain 20]   # make soak

Figures are printed, never asserted. RSS of Postgres is the postmaster and every backend, shared buffers counted
in each (an over-count; the senders' backends are among them).

The 10-minute run (2 Dec 2026, 17:15-17:43 UTC; 2 cores shared with other sessions: load average 2.4 at the
start, 11-13.7 during the load, 5-9 during the drain), `--minutes 10 --rate 200 --procs 4 --senders 40 --drain
17`: 52,100 texts sent in 601 s (86.7/s of the 200 offered: the senders' CPU was the limit); 181 answered during
the load (82 in its first minute, none in minutes 8-10, while crypto kept decrypting ~36 envelopes/s and had
joined only 33 of the 40 DMs), 20,110 by the end of the 17-minute drain (19.5/s); backlog 51,919 at the end of
the load, 31,990 at the end, waiting on the node, in JetStream (SB_IN 7,067 and SB_EV 8,244 pending) and in
Postgres. The senders' count after the drain: 21,106 texts answered exactly once, none twice, 30,994 not yet,
no unexpected answer. RSS MiB start -> minute 5 -> end of load -> end: publisher 84 -> 86 -> 86 -> 84, crypto
127 -> 135 -> 145 -> 150 (148-151 over the whole drain), ingest 85 -> 83 -> 83 -> 84, router 74 -> 77 -> 77 ->
78, devnode 109 -> 111 -> 112 -> 112, senders 530 -> 534 -> 535 -> 535, Postgres PSS 332 -> 376 -> 359 -> 365
(RSS 1,635 -> 5,046 at the end of the load: shared buffers counted per backend), nats-server 23 -> 77 -> 100
-> 205 (grows with what the streams hold). Full table and reading: bench/README.md."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `bench/devnode.py` would shadow the devnode package: the test kit is taken from its folder instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
sys.path.append(str(ROOT / "bench"))

import asyncpg  # noqa: E402
import nats  # noqa: E402
import psutil  # noqa: E402
from e2e_proc import pss_mib  # noqa: E402
from loadkit import Sender, answered, at_rate, load_cli, new_database, rss_mib, say  # noqa: E402
from nats.js import JetStreamContext  # noqa: E402
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


def memory(stack: Stack, devnode: subprocess.Popen[bytes], svc: DevServices, workers: list[int]) -> dict[str, float]:
    out = {f"{name}-{i}": rss_mib([p.pid]) for name, procs in stack.procs.items() for i, p in enumerate(procs)}
    out["devnode"] = rss_mib([devnode.pid])
    for proc in svc._procs:
        with contextlib.suppress(psutil.Error):
            name = psutil.Process(proc.pid).name()
            out[name] = rss_mib([proc.pid])
            if name == "postgres":  # RSS counts the shared buffers once per backend that touched them
                out["postgres PSS"] = pss_mib([proc.pid])
    out["senders"] = rss_mib(workers)
    return out


async def queues(js: JetStreamContext) -> dict[str, int]:
    """Per stream, the messages its consumers have yet to take or to acknowledge (where a backlog waits)."""
    out: dict[str, int] = {}
    for stream in await js.streams_info():
        name = stream.config.name or ""
        with contextlib.suppress(nats.errors.Error):
            pending = [c.num_pending + c.num_ack_pending for c in await js.consumers_info(name)]
            if pending and max(pending):
                out[name] = max(pending)
    return out


@dataclass
class Worker:
    """One OS process of `per` sender installations (`soak.py senders`), driven over its stdin and stdout."""

    proc: asyncio.subprocess.Process
    sent: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    check: dict[str, int] = field(default_factory=dict)
    checked: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    async def spawn(cls, index: int, per: int, node_url: str, admin_url: str, agent: str) -> Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "senders", str(index), str(per), node_url, admin_url, agent,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        worker = cls(proc)
        asyncio.get_running_loop().create_task(worker._read())
        return worker

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            msg = json.loads(line)
            self.sent = msg.get("sent", self.sent)
            if "ready" in msg:
                self.ready.set()
            if msg.get("done"):
                self.finished.set()
            if "check" in msg:
                self.check = msg["check"]
                self.checked.set()
        for event in (self.ready, self.finished, self.checked):
            event.set()  # a dead worker wakes whoever waits on it

    def tell(self, **msg: object) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")

    async def close(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                async with asyncio.timeout(60):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def report(label: str, stack: Stack, devnode: subprocess.Popen[bytes], svc: DevServices, dbs: dict[str, str],
                 workers: list[Worker], js: JetStreamContext, base: int) -> dict[str, float]:  # fmt: skip
    """One progress line set: sent, answered and the backlog between them, RSS, where the backlog waits, rows."""
    sent, done = sum(w.sent for w in workers), await answered(js) - base
    rss = memory(stack, devnode, svc, [w.proc.pid for w in workers])
    say(f"{label}: sent {sent}, answered {done}, backlog {sent - done}; RSS MiB "
        + ", ".join(f"{k} {v:.0f}" for k, v in rss.items()))  # fmt: skip
    say(f"{label}: pending per stream " + ", ".join(f"{k} {v}" for k, v in (await queues(js)).items()))
    for name, url in dbs.items():
        counts = await row_counts(url)
        say(f"{label}: {name} rows " + ", ".join(f"{t} {n}" for t, n in counts.items() if n))
    return rss


async def run(svc: DevServices, minutes: float, rate: float, senders_n: int, *, procs: int, drain: float) -> None:
    node_db = await new_database(svc.database_url, "soak_node")
    pipeline_db = await new_database(svc.database_url, "soak_pipeline")
    dbs = {"pipeline": pipeline_db, "devnode": node_db}
    raw = {"SB_PACING": "0", "LOG_LEVEL": "WARNING"}
    per = -(-senders_n // procs)
    with devnode_process(node_db) as (devnode, url):
        async with Stack.start(url, pipeline_db, svc.nats_url, partitions=8, extra_env=raw) as stack:
            say(f"opening {procs} sender processes of {per} installations each")
            workers = [await Worker.spawn(i, per, url, svc.database_url, stack.agent_inbox_id) for i in range(procs)]
            nc = await nats.connect(svc.nats_url)
            js = nc.jetstream()
            try:
                await asyncio.gather(*(w.ready.wait() for w in workers))
                if any(w.proc.returncode is not None for w in workers):
                    raise RuntimeError("a sender process exited before the load")
                base = await answered(js)
                rss = {"start": (await report("start", stack, devnode, svc, dbs, workers, js, base))}
                started = time.perf_counter()
                for w in workers:
                    w.tell(rate=rate / procs, seconds=minutes * 60)
                load = asyncio.gather(*(w.finished.wait() for w in workers))
                for minute in range(1, int(minutes) + 1):
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(0.0, started + 60 * minute - time.perf_counter())):
                            await asyncio.shield(load)
                    stack.check_alive()
                    rss[f"minute {minute}"] = await report(
                        f"minute {minute}", stack, devnode, svc, dbs, workers, js, base
                    )
                await load
                load_s = time.perf_counter() - started
                sent_total = sum(w.sent for w in workers)
                done_at_load = await answered(js) - base
                say(f"load over: {sent_total} sent in {load_s:.0f} s, {done_at_load} answered; draining")
                done, drained = done_at_load, time.perf_counter()
                deadline, next_report = drained + drain * 60, drained + 60
                while done < sent_total and time.perf_counter() < deadline:
                    stack.check_alive()
                    await asyncio.sleep(5.0)
                    done = await answered(js) - base
                    if time.perf_counter() >= next_report:
                        minute = round((next_report - drained) / 60)
                        await report(f"drain minute {minute}", stack, devnode, svc, dbs, workers, js, base)
                        next_report += 60
                total_s = time.perf_counter() - started
                rss["end"] = await report("end", stack, devnode, svc, dbs, workers, js, base)
                say("counting each sender's answers")
                for w in workers:
                    w.tell(check=True)
                await asyncio.gather(*(w.checked.wait() for w in workers))
                check: Counter[str] = Counter()
                for w in workers:
                    check.update(w.check)
            finally:
                await nc.close()
                await asyncio.gather(*(w.close() for w in workers))
    drain_s = total_s - load_s
    print("| measurement | result |")
    print("| --- | --- |")
    print(f"| offered | {rate:g} texts/s for {minutes:g} min from {procs} processes x {per} senders: {sent_total} "
          f"sent in {load_s:.0f} s ({sent_total / load_s:.1f}/s reached) |")  # fmt: skip
    print(f"| answered | {done_at_load} during the load ({done_at_load / load_s:.1f}/s), {done} after {drain_s:.0f} s "
          f"more ({(done - done_at_load) / max(drain_s, 1):.1f}/s draining); backlog at the end of the load "
          f"{sent_total - done_at_load}, at the end {sent_total - done} |")  # fmt: skip
    print(f"| senders' count of answers | {check['once']} texts answered once, {check['twice_or_more']} more "
          f"than once, {check['missing']} not (yet) answered, {check['unexpected']} unexpected |")  # fmt: skip
    points = [k for k in ("start", f"minute {max(1, int(minutes) // 2)}", "end") if k in rss]
    for name in rss["start"]:
        row = " -> ".join(f"{rss[k][name]:.0f}" if name in rss[k] else "?" for k in points)
        print(f"| {'' if 'PSS' in name else 'RSS '}{name} MiB ({' -> '.join(points)}) | {row} |")


async def send_worker(index: int, per: int, node_url: str, admin_url: str, agent: str) -> None:
    """The `senders` subcommand: `per` installations with a DM each; `{"ready"}`, then on `{"rate", "seconds"}`
    the load (`{"sent"}` every second, `{"done"}` at the end), on `{"check"}` the answers counted, on EOF exit."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def tell(**msg: object) -> None:
        sys.stdout.write(json.dumps(msg) + "\n")
        sys.stdout.flush()

    prefix = f"p{index}s"
    async with contextlib.AsyncExitStack() as es:
        senders = [
            await es.enter_async_context(Sender.open(node_url, await new_database(admin_url, "soak_sender")))
            for _ in range(per)
        ]
        await asyncio.gather(*(s.open_dm(agent) for s in senders))
        tell(ready=True)
        while line := await reader.readline():
            cmd = json.loads(line)
            if "rate" in cmd:
                load = asyncio.create_task(at_rate(cmd["rate"], cmd["seconds"], senders, prefix))
                while not load.done():
                    await asyncio.wait([load], timeout=1.0)
                    tell(sent=sum(s.sent for s in senders))
                tell(sent=await load, done=True)
            elif cmd.get("check"):
                tell(check=await count_answers(senders, agent, prefix))


async def count_answers(senders: list[Sender], agent: str, prefix: str) -> dict[str, int]:
    """Each sender pulls its DM to the node's head and matches the agent's stored messages ("echo: <text>", one row
    per message id: a republished envelope is the same message) to the texts it sent."""
    out: Counter[str] = Counter()
    for i, s in enumerate(senders):
        await s.runtime.sync_group(s.dm)
        got: Counter[str] = Counter(
            str(s.runtime.registry.decode_bytes(m.content).value)
            for m in await s.runtime.messages(s.dm, limit=10 * s.sent + 100)
            if m.sender_inbox_id == agent
        )
        expected = {f"echo: {prefix}{i}.{n}" for n in range(s.sent)}
        for text in expected:
            out["once" if got[text] == 1 else "twice_or_more" if got[text] > 1 else "missing"] += 1
        out["unexpected"] += sum(n for text, n in got.items() if text not in expected)
    return dict(out)


def procs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--procs", type=int, default=4, help="OS processes the sender installations are spread over")
    parser.add_argument("--drain", type=float, default=20.0, help="minutes to wait for the backlog after the load")


def main() -> None:
    if sys.argv[1:2] == ["senders"]:
        index, per, node_url, admin_url, agent = sys.argv[2:7]
        asyncio.run(send_worker(int(index), int(per), node_url, admin_url, agent))
        return
    load_cli(__doc__ or "", run, minutes=10.0, rate=200.0, senders=40, more=procs_option)


if __name__ == "__main__":
    main()
