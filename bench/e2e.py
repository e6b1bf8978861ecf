"""End to end: our pipeline (ingest, crypto, router, publisher as processes, with its own private NATS and
Postgres) against an echo bot written with node-sdk 5.5.0 (`bench/e2e_bot.mjs`: `streamAllMessages` + `sendText`,
the core of the Agent SDK), in one run on one devnode (a process of its own, `bench/e2e_node.py`, with its own
Postgres cluster shared with the senders; devnode and the senders are counted for neither side).

- latency p50 / p99 at a steady rate from libxmtp senders (`bench/e2e_load.mjs`), for both sides, and the CPU
  seconds per echo over that window summed over every process of each side (ours: every service, NATS and
  Postgres; theirs: the bot), and the ratio;
- capacity: echoes/s draining a pre-loaded backlog (the side is paused with SIGSTOP: our ingest, the bot's
  process; a cheap sender, our own `xmtp_core` runtime, loads texts over many conversations; then the side
  resumes), with CPU per echo and node reads / writes per echo (devnode counts them per connection; each
  connection is given to the process that holds it);
- one router worker against two on an IO-bound handler (`bench/e2e_apps.py` `sleepy`, 20 ms), by the same drain;
- scale: echoes/s with many agents in one deployment (their handlers in `SCALE_ROUTERS` router processes, each
  hosting many agents), and memory (PSS) per conversation.

    .venv/bin/python bench/e2e.py [--quick] [--profile]

`--profile` runs the capacity drain only, with every service under cProfile for the window
(`bench/e2e_profile/sitecustomize.py`), and prints where the time goes per echo. Figures are printed, never
asserted; the machine load is printed with them (other work on the machine distorts wall-clock figures more
than CPU seconds). `bench/README.md` keeps the latest."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
import nats
from nats.aio.client import Client as NATS

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
# `bench/devnode.py` would shadow the devnode package: the test kit is taken from its folder instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
sys.path.insert(0, str(BENCH))

import e2e_proc as proc  # noqa: E402
from loadkit import new_database  # noqa: E402
from pipelinekit import Stack  # noqa: E402
from xmtp_core.bus import subjects  # noqa: E402
from xmtp_core.identity import LocalWalletSigner  # noqa: E402
from xmtp_core.node import NodeClient  # noqa: E402
from xmtp_core.pg_url import plain_pg_url  # noqa: E402
from xmtp_core.runtime import Runtime  # noqa: E402
from xmtp_core.store import EncryptionKey, KeyRing, Store  # noqa: E402

from switchboard.devservices import DevServices, dev_services  # noqa: E402


@dataclass(frozen=True)
class Options:
    latency_senders: int = 5
    latency_rate: float = 50.0
    latency_s: float = 10.0
    conversations: int = 16  # the backlog is spread over these
    backlog: int = 300  # sized to what the pipeline drains today (a few per second here), to end in minutes
    workers_backlog: int = 150
    agents: int = 100
    conversations_per_agent: int = 1
    texts_per_conversation: int = 2
    partitions: int = 8
    profile: bool = False
    quick: bool = False
    scale_only: bool = False

    @classmethod
    def small(cls) -> Options:
        return cls(
            latency_senders=1, latency_rate=5.0, latency_s=2.0, conversations=2, backlog=20, workers_backlog=16,
            agents=2, conversations_per_agent=2, texts_per_conversation=2, partitions=4, quick=True,
        )  # fmt: skip


def say(what: str) -> None:
    """Progress on stderr (the figures go to stdout)."""
    print(f"[e2e {time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


# ---- the devnode process and its counts ------------------------------------------------------------------------


class Child:
    """A child answering JSON lines on stdout, one per line asked on stdin; it ends when its stdin closes."""

    proc: subprocess.Popen[str]

    def _line(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.proc.args!r} exited")
        result: dict[str, Any] = json.loads(line)
        return result

    def ask(self, question: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(question + "\n")
        self.proc.stdin.flush()
        return self._line()

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGCONT)  # a paused child would never read its end of input
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class NodeProc(Child):
    """`bench/e2e_node.py`: devnode with counted reads and writes per connection."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(BENCH / "e2e_node.py"), database_url], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=open(log, "ab"), text=True,  # noqa: SIM115 - closed with the process
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self._line()['port']}"

    def counts(self) -> dict[str, dict[str, int]]:
        """peer ("ipv4:127.0.0.1:PORT") -> {"write": n, "read": n}, since start."""
        return self.ask("counts")


def per_owner(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[int, Counter[str]]:
    """Node calls in the window by the pid holding the calling connection (0: a connection gone meanwhile)."""
    owners = proc.port_owners()
    out: dict[int, Counter[str]] = {}
    for peer, kinds in after.items():
        port = int(peer.rsplit(":", 1)[1]) if peer.rsplit(":", 1)[-1].isdigit() else -1
        counter = out.setdefault(owners.get(port, 0), Counter())
        for kind, n in kinds.items():
            counter[kind] += n - before.get(peer, {}).get(kind, 0)
    return out


# ---- the two sides -------------------------------------------------------------------------------------------


@dataclass
class Side:
    """What the benchmark needs of a side: its processes, a count of echoes done, a way to pause and resume it."""

    name: str
    inbox_id: str
    roots: Callable[[], list[int]]
    answered: Callable[[], Awaitable[int]]
    pause: Callable[[], None]
    resume: Callable[[], None]
    database_url: str = ""  # ours: its Postgres activity per echo is counted too
    parts: Callable[[], dict[str, list[int]]] | None = None  # ours: the roots by service, for CPU per process


class Bot(Child):
    """`bench/e2e_bot.mjs` as a child; `echoed` counts its completed sends."""

    def __init__(self, api_url: str, log: Path) -> None:
        self.proc = subprocess.Popen(
            ["node", str(BENCH / "e2e_bot.mjs"), api_url], cwd=BENCH, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(log, "ab"), text=True, env={**os.environ, "NODE_NO_WARNINGS": "1"},  # noqa: SIM115
        )  # fmt: skip
        self.inbox_id = str(self._line()["inboxId"])

    async def echoed(self) -> int:
        return int(self.ask("stats")["echoed"])

    def side(self) -> Side:
        def signal_bot(sig: int) -> Callable[[], None]:
            return lambda: os.kill(self.proc.pid, sig)

        return Side(
            "node-sdk bot", self.inbox_id, lambda: [self.proc.pid], self.echoed,
            signal_bot(signal.SIGSTOP), signal_bot(signal.SIGCONT),
        )  # fmt: skip


def pipeline_side(
    stack: Stack, svc: DevServices, nc: NATS, database_url: str, app: str | None = None, agent: str = ""
) -> Side:
    """Our deployment: every service of `stack` (of the routers, those hosting ``app`` when given: the others'
    agents are idle in that measurement) and the private NATS and Postgres of `svc`. An echo is done when the
    publisher reported the reply accepted by the node (a result on SB_RES)."""
    js = nc.jetstream()

    async def answered() -> int:
        return int((await js.stream_info(subjects.SB_RES)).state.last_seq)

    def ingest(sig: int) -> Callable[[], None]:
        def send() -> None:
            for p in stack.procs["ingest"]:
                os.killpg(p.pid, sig)

        return send

    def roots() -> list[int]:
        mine = [p for name, ps in stack.procs.items() for p in ps if name != "router" or app is None or app in p.args]
        return [p.pid for p in mine] + [p.pid for p in svc._procs]

    def parts() -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for name, ps in stack.procs.items():
            out.setdefault(name, []).extend(p.pid for p in ps if name != "router" or app is None or app in p.args)
        for server in svc._procs:
            out.setdefault(proc.command_name(server.pid), []).append(server.pid)
        return out

    inbox = stack.inbox_ids[agent] if agent else stack.agent_inbox_id
    pause, resume = ingest(signal.SIGSTOP), ingest(signal.SIGCONT)
    return Side("pipeline", inbox, roots, answered, pause, resume, database_url, parts)


# ---- measurements --------------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    at: float
    cpu: float
    calls: dict[str, dict[str, int]]
    cpu_by: dict[str, float] = field(default_factory=dict)  # per service (`Side.parts`), when known


@dataclass
class Window:
    """CPU seconds of the side and its node calls between two snapshots."""

    seconds: float
    cpu: float
    writes: int
    reads: int
    other_writes: int  # everyone else's (senders), for the record
    loadavg: str = field(default_factory=proc.loadavg)
    cpu_by: dict[str, float] = field(default_factory=dict)

    def per(self, echoes: int) -> dict[str, float]:
        n = max(echoes, 1)
        return {"cpu_ms": 1000 * self.cpu / n, "writes": self.writes / n, "reads": self.reads / n}


def snapshot(side: Side, node: NodeProc) -> Snapshot:
    by = {name: proc.cpu_seconds(pids) for name, pids in side.parts().items()} if side.parts else {}
    return Snapshot(time.perf_counter(), proc.cpu_seconds(side.roots()), node.counts(), by)


def window(side: Side, node: NodeProc, start: Snapshot) -> Window:
    end = snapshot(side, node)
    mine = proc.tree(side.roots())
    calls = per_owner(start.calls, end.calls)
    own = sum((c for pid, c in calls.items() if pid in mine), Counter[str]())
    other = sum((c["write"] for pid, c in calls.items() if pid not in mine))
    by = {name: cpu - start.cpu_by.get(name, 0.0) for name, cpu in end.cpu_by.items()}
    return Window(end.at - start.at, end.cpu - start.cpu, own["write"], own["read"], other, cpu_by=by)


async def until(probe: Callable[[], Awaitable[int]], target: int, within: float, every: float = 0.05) -> float:
    """Poll until ``probe()`` reaches ``target``; the time it did (perf_counter)."""
    deadline = time.perf_counter() + within
    while (value := await probe()) < target:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{value} of {target} after {within:.0f}s")
        await asyncio.sleep(every)
    return time.perf_counter()


IDLE_SETTLE_S = 12.0  # a deployment's start-up work (imports, consumers binding) lasts ~10 s after it is up


async def idle(side: Side, seconds: float, settle: float = IDLE_SETTLE_S) -> float:
    """CPU the side uses doing nothing (timers, polls, heartbeats), as a share of one core, once it has
    settled: measured 1 s after the deployment came up, ours showed 93 % of a core, which was the services
    finishing their start-up (per process: ingest and each router ~25 % for 4 s, ~2 % by 8 s), not a loop."""
    await asyncio.sleep(settle)
    before = proc.cpu_seconds(side.roots())
    await asyncio.sleep(seconds)
    return (proc.cpu_seconds(side.roots()) - before) / seconds


def _log(path: Path) -> Any:
    return open(path, "ab")


async def latency(side: Side, node: NodeProc, opts: Options, logs: Path) -> dict[str, Any]:
    """`bench/e2e_load.mjs` against the side; CPU and node calls over its sending window."""
    say(f"{side.name}: latency from libxmtp senders")
    args = [node.url, side.inbox_id, opts.latency_senders, opts.latency_rate, opts.latency_s, 120]
    load = await asyncio.create_subprocess_exec(
        "node", str(BENCH / "e2e_load.mjs"), *map(str, args), cwd=BENCH, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=_log(logs / f"load-{side.inbox_id[:8]}.log"),
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )  # fmt: skip
    assert load.stdout is not None and load.stdin is not None
    try:
        ready = await asyncio.wait_for(load.stdout.readline(), 180)
        if not ready:
            raise RuntimeError(f"e2e_load.mjs exited before its warm-up ({logs})")
        start = snapshot(side, node)
        load.stdin.write(b"go\n")
        await load.stdin.drain()
        result: dict[str, Any] = json.loads(await asyncio.wait_for(load.stdout.readline(), 10 * opts.latency_s + 300))
        result["window"] = window(side, node, start)
        return result
    finally:
        with contextlib.suppress(ProcessLookupError):
            load.kill()
        await load.wait()


class CheapSender:
    """Our own `xmtp_core` runtime as a sender: far cheaper per text than a libxmtp client."""

    def __init__(self, runtime: Runtime, store: Store) -> None:
        self.runtime = runtime
        self.store = store

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, node: NodeClient, database_url: str) -> AsyncIterator[CheapSender]:
        store = await Store.open(database_url, KeyRing(EncryptionKey.generate()))
        try:
            yield cls(await Runtime.register(node, store, LocalWalletSigner.generate()), store)
        finally:
            await store.close()

    async def groups_with(self, inbox_id: str, n: int) -> list[bytes]:
        return [await self.runtime.create_group([inbox_id]) for _ in range(n)]

    async def send(self, groups: list[bytes], n: int, prefix: str) -> float:
        """``n`` texts round robin over ``groups`` (in order within each, the conversations concurrently: a send
        mostly waits on Postgres and the node); the seconds it took."""

        async def one(k: int) -> None:
            for i in range(k, n, len(groups)):
                await self.runtime.send(groups[k], f"{prefix}{i}", wait=False)

        started = time.perf_counter()
        await asyncio.gather(*(one(k) for k in range(min(n, len(groups)))))
        return time.perf_counter() - started


async def drain(
    side: Side, node: NodeProc, sender: CheapSender, groups: list[bytes], n: int,
    around: tuple[Callable[[], None], Callable[[], None]] = (lambda: None, lambda: None),
) -> dict[str, Any]:  # fmt: skip
    """Warm every conversation (one text answered each), pause the side, load ``n`` texts, resume it, and time
    the echoes from the first one done to the last. ``around``: called as the window starts and ends."""
    say(f"{side.name}: warming {len(groups)} conversations")
    base = await side.answered() + len(groups)
    await sender.send(groups, len(groups), "warm")
    await until(side.answered, base, 180)
    side.pause()  # a paused bot cannot answer `answered`: nothing is asked of the side until it resumes
    try:
        loaded_s = await sender.send(groups, n, "x")
        around[0]()
        db_before = await _db_activity(side.database_url)
        start = snapshot(side, node)
    finally:
        side.resume()
    say(f"{side.name}: {n} texts loaded in {loaded_s:.1f} s, draining")
    first = await until(side.answered, base + 1, 120, every=0.01)
    try:
        last = await until(side.answered, base + n, max(180.0, n / 2), every=0.02)
        done = n
    except TimeoutError:  # too slow to finish in time: the rate of what it did is still a figure
        last, done = time.perf_counter(), await side.answered() - base
        say(f"{side.name}: only {done} of {n} echoes within the wait")
    result = {"window": window(side, node, start), "echoes": done, "loaded": n, "loaded_s": loaded_s}
    around[1]()
    if side.database_url:
        await asyncio.sleep(1.5)  # Postgres publishes a backend's counters at most once a second
        after = await _db_activity(side.database_url)
        result["db"] = {k: (after[k] - db_before[k]) / max(done, 1) for k in after}
    result["rate"] = (done - 1) / max(last - first, 1e-9)
    return result


# ---- the run -------------------------------------------------------------------------------------------------


async def _db_activity(url: str) -> dict[str, int]:
    """Transactions and rows read and written so far over every database of the cluster (pg_stat_database):
    each agent has its own database beside the main one, and the cluster is ours alone."""
    if not url:
        return {}
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        row = await conn.fetchrow(
            "SELECT sum(xact_commit + xact_rollback) AS transactions, sum(tup_returned + tup_fetched) AS rows_read,"
            " sum(tup_inserted + tup_updated + tup_deleted) AS rows_written"
            " FROM pg_stat_database WHERE datname IS NOT NULL"
        )
        return {k: int(v) for k, v in dict(row).items()}
    finally:
        await conn.close()


async def _db_size(url: str) -> int:
    """Bytes of every database of the cluster (the main one and each agent's)."""
    conn = await asyncpg.connect(plain_pg_url(url))
    try:
        return int(await conn.fetchval("SELECT sum(pg_database_size(datname)) FROM pg_database"))
    finally:
        await conn.close()


@dataclass
class Env:
    """Everything the phases share: the node, the senders' database, our private servers, where logs go."""

    node: NodeProc
    shared: DevServices
    ours: DevServices
    logs: Path
    opts: Options

    @contextlib.asynccontextmanager
    async def stack(self, **kwargs: Any) -> AsyncIterator[Deployment]:
        db = await new_database(self.ours.database_url)
        async with Stack.start(self.node.url, db, self.ours.nats_url, partitions=self.opts.partitions, **kwargs) as s:
            nc = await nats.connect(self.ours.nats_url)
            try:
                yield Deployment(s, nc, db, self.ours)
            finally:
                await nc.close()


@dataclass
class Deployment:
    stack: Stack
    nc: NATS
    database_url: str
    servers: DevServices

    def side(self, app: str | None = None, agent: str = "") -> Side:
        return pipeline_side(self.stack, self.servers, self.nc, self.database_url, app, agent)


SLEEPY = "bench.e2e_apps:sleepy"
SCALE_ROUTERS = 2  # router processes for the scale run's agents (a process per agent cost ~60 MB and a start-up)
ECHO = "examples.echo:agent"


def _echo_agents(count: int) -> dict[str, str]:
    """``count`` echo agents besides the main one, by name -> app."""
    return {f"echo_{i}": f"bench.e2e_apps:echo_{i}" for i in range(1, count)}


async def head_to_head(env: Env, sender: CheapSender, deployment: Deployment) -> dict[str, Any]:
    opts, out = env.opts, dict[str, Any]()
    bot = Bot(env.node.url, env.logs / "bot.log")
    try:
        ours = deployment.side(ECHO)
        for side in [ours] if opts.profile else [ours, bot.side()]:
            if not opts.profile:
                out[f"idle {side.name}"] = await idle(side, 1.0 if opts.quick else 5.0)
                out[f"latency {side.name}"] = await latency(side, env.node, opts, env.logs)
            say(f"{side.name}: {opts.conversations} conversations from the cheap sender")
            groups = await sender.groups_with(side.inbox_id, opts.conversations)
            if not opts.profile:
                out[f"capacity {side.name}"] = await drain(side, env.node, sender, groups, opts.backlog)
                continue
            profiling = (
                lambda: _signal_services(deployment.stack, signal.SIGUSR1),
                lambda: _signal_services(deployment.stack, signal.SIGUSR2),
            )
            out[f"capacity {side.name}"] = await drain(side, env.node, sender, groups, opts.backlog, profiling)
            await asyncio.sleep(2.0)  # the profiles written
            out["profile"] = _profile_table(env.logs, opts.backlog)
    finally:
        bot.stop()
    return out


def _signal_services(stack: Stack, sig: int) -> None:
    for procs in stack.procs.values():
        for p in procs:
            os.kill(p.pid, sig)


def _profile_table(logs: Path, echoes: int, top: int = 25) -> list[str]:
    rows = []
    for path in sorted(logs.glob("*.prof")):
        stats = pstats.Stats(str(path))
        total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
        rows.append(f"{path.stem}: {1000 * total / echoes:.2f} ms profiled per echo")
        ranked = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]  # type: ignore[attr-defined]
        for (file, line, fn), (_cc, calls, tottime, cumtime, _callers) in ranked:
            where = f"{Path(file).name}:{line} {fn}"
            rows.append(
                f"    {1000 * tottime / echoes:7.3f} ms self {1000 * cumtime / echoes:8.3f} ms cum "
                f"{calls / echoes:6.1f} calls  {where}"
            )
        rows.extend(_statements_table(path.with_suffix(".sql.json"), echoes))
    return rows


def _statements_table(path: Path, echoes: int) -> list[str]:
    """SQL statements and commits per echo of one service (`e2e_profile` counts them by text)."""
    if not path.exists():
        return []
    counts: dict[str, int] = json.loads(path.read_text())
    total = sum(n for text, n in counts.items() if text != "COMMIT")
    rows = [f"  SQL: {total / echoes:.1f} statements and {counts.get('COMMIT', 0) / echoes:.1f} commits per echo"]
    for text, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        rows.append(f"    {n / echoes:5.2f}  {text}")
    return rows


async def workers(env: Env, sender: CheapSender, deployment: Deployment) -> dict[int, Any]:
    """The sleepy agent's drain with one router, then with a second router of it started."""
    side = deployment.side(SLEEPY, "sleepy")
    groups = await sender.groups_with(side.inbox_id, max(env.opts.conversations, 2 * env.opts.partitions))
    out = {}
    for n in (1, 2):
        say(f"workers: {n} router(s) for the sleepy agent")
        if n == 2:
            deployment.stack.spawn("router", 200, "--app", SLEEPY)
            await asyncio.sleep(2.0)  # its consumers bound
        out[n] = await drain(side, env.node, sender, groups, env.opts.workers_backlog)
    return out


async def scale(env: Env, sender: CheapSender, deployment: Deployment | None) -> dict[str, Any]:
    """Every echo agent of the deployment (one of its own when None) gets conversations; one drain for all."""
    opts = env.opts
    say(f"scale: {opts.agents} agents")
    async with contextlib.AsyncExitStack() as stack_cm:
        started = time.perf_counter()
        if deployment is None:
            deployment = await stack_cm.enter_async_context(
                env.stack(
                    app="bench.e2e_apps:echo_0",
                    agent="echo_0",
                    more_agents=_echo_agents(opts.agents),
                    more_agents_routers=SCALE_ROUTERS,
                )
            )
        up_s = time.perf_counter() - started
        stack = deployment.stack
        names = [n for n in stack.inbox_ids if n.startswith("echo")]
        side = deployment.side()
        pss0, db0 = proc.pss_mib(side.roots()), await _db_size(deployment.database_url)
        groups = [g for n in names for g in await sender.groups_with(stack.inbox_ids[n], opts.conversations_per_agent)]
        result = await drain(side, env.node, sender, groups, len(groups) * opts.texts_per_conversation)
        pss1, db1 = proc.pss_mib(side.roots()), await _db_size(deployment.database_url)
        processes = len(proc.tree(side.roots()))
    conversations = len(groups)
    result.update(
        agents=len(names), conversations=conversations, up_s=up_s, processes=processes, pss0=pss0, pss1=pss1,
        pss_per_conv_kib=1024 * (pss1 - pss0) / conversations, db_per_conv_kib=(db1 - db0) / 1024 / conversations,
    )  # fmt: skip
    return result


async def run(opts: Options, shared: DevServices, ours: DevServices, logs: Path) -> dict[str, Any]:
    node = NodeProc(await new_database(shared.database_url), logs / "devnode.log")
    try:
        env = Env(node, shared, ours, logs, opts)
        # One deployment: the echo agent, the sleepy one, and (--quick) the scale run's agents; a full run gives
        # the scale run a deployment of its own, so 100 idle routers do not weigh on the other figures.
        more = {"sleepy": SLEEPY, **(_echo_agents(opts.agents) if opts.quick else {})}
        extra = {"PYTHONPATH": str(BENCH / "e2e_profile"), "SB_BENCH_PROFILE": str(logs)} if opts.profile else {}
        db = await new_database(shared.database_url)
        async with NodeClient.for_url(node.url) as client, CheapSender.open(client, db) as sender:
            if opts.scale_only:
                return {"scale": await scale(env, sender, None)}
            async with env.stack(more_agents=more, extra_env=extra) as deployment:
                results = await head_to_head(env, sender, deployment)
                if opts.profile:
                    return results
                results["workers"] = await workers(env, sender, deployment)
                if opts.quick:
                    results["scale"] = await scale(env, sender, deployment)
            if not opts.quick:
                try:
                    results["scale"] = await scale(env, sender, None)
                except (TimeoutError, RuntimeError) as exc:  # the other figures are still worth printing
                    say(f"scale run failed: {exc}")
                    results["scale"] = {"failed": str(exc).splitlines()[0][:200]}
        return results
    finally:
        node.stop()


# ---- printing ------------------------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"


def report(results: dict[str, Any], opts: Options) -> Iterator[str]:
    if "profile" in results:
        cap = results["capacity pipeline"]
        load = cap["window"].loadavg
        yield f"capacity drain under cProfile: {cap['rate']:.0f} echoes/s (profiling slows it), load {load}"
        yield from results["profile"]
        return
    if opts.scale_only:
        yield from _scale_rows(results["scale"]) if "failed" not in results["scale"] else [str(results["scale"])]
        return
    ours, bot = "pipeline", "node-sdk bot"
    yield "| measurement | pipeline | node-sdk 5.5.0 bot | ratio (ours / bot) | goal |"
    yield "| --- | --- | --- | --- | --- |"
    lat = {side: results[f"latency {side}"] for side in (ours, bot)}
    cap = {side: results[f"capacity {side}"] for side in (ours, bot)}
    for side in (ours, bot):
        lat[side]["cpu_ms"] = lat[side]["window"].per(lat[side]["received"])["cpu_ms"]
        cap[side].update(cap[side]["window"].per(cap[side]["echoes"]))
    rate = f"{opts.latency_rate:g} msg/s from {opts.latency_senders} libxmtp senders, {opts.latency_s:g} s"

    def cell(d: dict[str, Any], key: str, fmt: str) -> str:
        return format(d[key], fmt) if d.get(key) is not None else "n/a"

    def row(what: str, key: str, fmt: str, src: dict[str, dict[str, Any]], goal: str = "") -> str:
        a, b = src[ours].get(key), src[bot].get(key)
        ratio = _ratio(a, b) if a is not None and b is not None else "n/a"
        return f"| {what} | {cell(src[ours], key, fmt)} | {cell(src[bot], key, fmt)} | {ratio} | {goal} |"

    yield (
        f"| idle CPU, % of one core | {100 * results[f'idle {ours}']:.1f} | {100 * results[f'idle {bot}']:.1f} | "
        f"{_ratio(results[f'idle {ours}'], results[f'idle {bot}'])} | |"
    )
    yield row(f"latency p50, ms ({rate})", "p50Ms", ".1f", lat)
    yield row("latency p99, ms", "p99Ms", ".1f", lat, "ours ≤ bot's")
    yield (
        f"| echoes received / sent | {lat[ours]['received']} / {lat[ours]['sent']} | "
        f"{lat[bot]['received']} / {lat[bot]['sent']} | | |"
    )
    yield row("CPU ms per echo at that rate (side's processes)", "cpu_ms", ".2f", lat, "≤ 0.33×")
    drained = f"draining a backlog of {opts.backlog} texts over {opts.conversations} conversations"
    yield row(f"capacity, echoes/s ({drained})", "rate", ".1f", cap, "≥ 1,000/s")
    yield f"| echoes drained / loaded | {cap[ours]['echoes']} / {opts.backlog} | {cap[bot]['echoes']} / {opts.backlog} | | |"  # noqa: E501
    yield row("CPU ms per echo at capacity", "cpu_ms", ".2f", cap, "≤ 0.33×")
    yield row("node writes per echo (side's connections)", "writes", ".2f", cap)
    yield row("node reads per echo", "reads", ".2f", cap)
    db = cap[ours].get("db")
    if db:
        yield (
            f"| Postgres per echo at capacity (pg_stat_database) | {db['transactions']:.1f} transactions, "
            f"{db['rows_written']:.1f} rows written, {db['rows_read']:.0f} rows read | SQLite in the bot | | |"
        )
    by = cap[ours]["window"].cpu_by
    if by:
        n = max(cap[ours]["echoes"], 1)
        split = ", ".join(f"{name} {1000 * cpu / n:.1f}" for name, cpu in sorted(by.items(), key=lambda kv: -kv[1]))
        yield f"| our CPU ms per echo at capacity, by process | {split} | | | |"
    w = results["workers"]
    yield (
        f"| sleepy handler (20 ms), {opts.workers_backlog} texts: 1 router worker / 2 workers, echoes/s | "
        f"{w[1]['rate']:.1f} / {w[2]['rate']:.1f} | | {_ratio(w[2]['rate'], w[1]['rate'])} (2 / 1) | ≥ 1.8× |"
    )
    s = results["scale"]
    if "failed" in s:
        yield f"| scale: {opts.agents} agents | failed: {s['failed']} | | | |"
        s = {}
    if s:
        yield from _scale_rows(s)
    yield ""
    yield f"load average (1/5/15 min) at the end of each window: {_loads(results)}"
    yield "devnode and the senders are counted for neither side (they serve or load both)."


def _scale_rows(s: dict[str, Any]) -> Iterator[str]:
    yield (
        f"| scale: {s['agents']} agents ({s['processes']} processes, up in {s['up_s']:.0f} s), {s['conversations']} "
        f"conversations, {s['echoes']} of {s['loaded']} texts drained, echoes/s | {s['rate']:.1f} | | | |"
    )
    yield (
        f"| memory per conversation (PSS of every process; Postgres database) | {s['pss_per_conv_kib']:.0f} KiB; "
        f"{s['db_per_conv_kib']:.0f} KiB (PSS {s['pss0']:.0f} → {s['pss1']:.0f} MiB) | | | |"
    )


def _loads(results: dict[str, Any]) -> str:
    parts = []
    for key, value in results.items():
        if isinstance(value, dict) and isinstance(value.get("window"), Window):
            parts.append(f"{key} [{value['window'].loadavg}]")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny parameters: a sanity run (< 1 min)")
    parser.add_argument("--profile", action="store_true", help="the capacity drain only, services under cProfile")
    parser.add_argument("--agents", type=int, help="agents in the scale run")
    parser.add_argument("--scale-only", action="store_true", help="only the scale run (many agents)")
    parser.add_argument("--backlog", type=int, help="texts in the capacity drain")
    args = parser.parse_args()
    opts = Options.small() if args.quick else Options()
    opts = replace(
        opts, profile=args.profile, agents=args.agents or opts.agents, backlog=args.backlog or opts.backlog,
        scale_only=args.scale_only,
    )  # fmt: skip
    # Both clusters must be private: their processes are what a side's CPU is summed over.
    for name in ("NATS_URL", "DATABASE_URL"):
        os.environ.pop(name, None)
    # SIGTERM (a `timeout`, CI) unwinds like Ctrl-C, so every service, server and child is stopped on the way out:
    # the services run in sessions of their own and would outlive an abrupt exit.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logs = Path(tempfile.mkdtemp(prefix="sb-e2e-"))
    print(f"load average before: {proc.loadavg()}; logs in {logs}", flush=True)
    with dev_services(need_nats=False) as shared, dev_services() as ours:
        results = asyncio.run(run(opts, shared, ours, logs))
    for line in report(results, opts):
        print(line)


if __name__ == "__main__":
    main()
