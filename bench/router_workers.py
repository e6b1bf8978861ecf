"""Router workers: one router process against two on an IO-bound handler, with crypto out of the picture.

In `bench/e2e.py` the router's scaling cannot show: crypto is the bottleneck, so a second router finds nothing
more to do. Here the router is alone on the bus: the sleepy agent (`bench/e2e_apps.py`, a 20 ms pause then a
reply) consumes SB_EV, and a stand-in for crypto in this process answers every reply command at once (as crypto
does: KV `sb_command_results`, then the sender's inbox) and the conversation op (a worker asks crypto once about
a conversation whose `joined` event another worker handled). For each worker count, a backlog of text events over
many conversations is loaded into SB_EV with no router running (each conversation's `joined` event first, so no
worker asks crypto about it); then that many router processes start, and the drain is timed from the first
answered command to the last. Figures: answers/s, router CPU ms per event (utime + stime of the router
processes over the drain), the ratio of two workers to one.

    .venv/bin/python bench/router_workers.py [--events 2000] [--conversations 64] [--partitions 8] [--workers 1 2]

What bounds it: per partition one event is in flight (conversation order), so a deployment runs at most
`partitions` handlers at once whatever the worker count; one worker already runs all of them concurrently, so a
second one helps only when the first is short of CPU (it is, here: one Python process tops out well below the
partitions' bound). On 2 cores the second worker also shares them with NATS, Postgres and this process's
stand-in for crypto. Figures are printed, never asserted, with the load average.

Runs on private NATS and Postgres (the partitioned streams need nats-server >= 2.10), whatever NATS_URL and
DATABASE_URL say.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from xmtp_core.bus import subjects
from xmtp_core.bus.client import answer_command, command_reply_to, publish_event, serve_ops
from xmtp_core.bus.schemas import (
    CommandResult,
    ConversationInfo,
    JoinedEvent,
    MessageEvent,
    OpResponse,
    OutboundCommand,
    parse,
)
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import OUT, ensure_buckets, ensure_streams
from xmtp_core.content import default_registry

from switchboard.devservices import DevServices, dev_services, die_with_parent

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_proc import cpu_seconds, loadavg
from loadkit import new_database, say

ROOT = Path(__file__).resolve().parents[1]
SWITCHBOARD = str(ROOT / ".venv/bin/switchboard")
AGENT = "sleepy"
APP = "bench.e2e_apps:sleepy"


class StandInCrypto:
    """Answers every command on SB_OUT at once, as crypto does; `times` are when each was answered."""

    def __init__(self, nc: NATS, js: JetStreamContext) -> None:
        self.nc, self.js = nc, js
        self.times: list[float] = []
        self.answered = asyncio.Event()  # set after each answer

    async def op(self, request: Any) -> OpResponse:
        """The conversation op a worker sends for a conversation whose `joined` event another worker handled."""
        info = ConversationInfo(conversation_id=request.conversation_id, kind="dm", dm_peer_inbox_id="ab" * 32)
        return OpResponse(op=request.op, ok=True, conversation=info)

    async def run(self) -> None:
        ops = await serve_ops(self.nc, AGENT, self.op)
        try:
            await self._commands()
        finally:
            await ops.unsubscribe()

    async def _commands(self) -> None:
        sub = await self.js.pull_subscribe(f"{subjects.PREFIX}.out.>", durable="standin", stream=OUT.name)
        while True:
            try:
                msgs = await sub.fetch(64, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            await asyncio.gather(*(self._answer(msg) for msg in msgs))  # crypto answers many at once too

    async def _answer(self, msg: Msg) -> None:
        cmd = parse(OutboundCommand, msg.data)
        result = CommandResult(
            ok=True, idempotency_key=cmd.idempotency_key, message_id=os.urandom(32).hex(),
            conversation_id=cmd.conversation_id,
        )  # fmt: skip
        await answer_command(self.nc, AGENT, cmd.idempotency_key, command_reply_to(msg.headers), result)
        await msg.ack()
        self.times.append(time.perf_counter())
        self.answered.set()


async def load(js: JetStreamContext, run: int, events: int, conversations: int) -> None:
    """`conversations` joined events, then `events` texts spread over them, all for the sleepy agent."""
    convs = [f"{run:04x}{c:028x}" for c in range(conversations)]
    for conv in convs:
        info = ConversationInfo(conversation_id=conv, kind="dm", dm_peer_inbox_id="ab" * 32)
        await publish_event(js, JoinedEvent(agent=AGENT, event_id=f"j{run}-{conv}", conversation=info))
    encoded = default_registry().encode("ping")
    acks = []
    for n in range(events):
        conv = convs[n % conversations]
        event = MessageEvent(
            agent=AGENT, event_id=f"m{run}-{n}", message_id=f"{run:08x}{n:056x}", conversation_id=conv,
            sender_inbox_id="ab" * 32, sender_installation="cd" * 32, sent_ns=time.time_ns(),
            content_type=str(encoded.type), encoded_content=encoded.to_bytes(),
        )  # fmt: skip
        acks.append(publish_event(js, event))
        if len(acks) >= 256:
            await asyncio.gather(*acks)
            acks.clear()
    await asyncio.gather(*acks)


@contextlib.contextmanager
def routers(count: int, svc: DevServices, database_url: str, partitions: int, logs: Path) -> Iterator[list[int]]:
    env = {
        **os.environ, "NATS_URL": svc.nats_url, "DATABASE_URL": database_url, "SB_PARTITIONS": str(partitions),
        "LOG_LEVEL": os.environ.get("ROUTER_LOG_LEVEL", "WARNING"), "SB_LOG_FORMAT": "text",
    }  # fmt: skip
    procs = []
    for i in range(count):
        argv, preexec = die_with_parent([SWITCHBOARD, "router", "--app", APP])
        log = open(logs / f"router-{count}-{i}.log", "ab")  # noqa: SIM115 - closed with the process
        procs.append(
            subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=preexec)
        )
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


async def drain(standin: StandInCrypto, pids: list[int], events: int, timeout_s: float) -> dict[str, float]:
    start = len(standin.times)
    cpu0 = cpu_seconds(pids)
    deadline = time.perf_counter() + timeout_s
    while len(standin.times) - start < events:
        standin.answered.clear()
        try:
            async with asyncio.timeout(max(deadline - time.perf_counter(), 0.0)):
                await standin.answered.wait()
        except TimeoutError:
            break
    cpu1 = cpu_seconds(pids)
    done = standin.times[start:]
    window = (done[-1] - done[0]) if len(done) > 1 else float("nan")
    return {
        "answered": len(done), "rate": (len(done) - 1) / window if len(done) > 1 else 0.0,
        "cpu_ms": 1000 * (cpu1 - cpu0) / max(len(done), 1), "window_s": window,
    }  # fmt: skip


@contextlib.asynccontextmanager
async def bus(svc: DevServices, partitions: int) -> AsyncIterator[tuple[NATS, JetStreamContext]]:
    nc = await nats.connect(svc.nats_url)
    try:
        js = nc.jetstream()
        settings = BusSettings(nats_url=svc.nats_url, partitions=partitions)
        await ensure_streams(js, settings)
        await ensure_buckets(js, settings)
        yield nc, js
    finally:
        await nc.close()


async def main(svc: DevServices, args: argparse.Namespace) -> None:
    database_url = await new_database(svc.database_url, "routers")
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"router-workers-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    results: list[tuple[int, dict[str, float]]] = []
    async with bus(svc, args.partitions) as (nc, js):
        standin = StandInCrypto(nc, js)
        answering = asyncio.create_task(standin.run())
        try:
            for run, count in enumerate(args.workers):
                say(f"{count} router(s): loading {args.events} events over {args.conversations} conversations")
                await load(js, run, args.events, args.conversations)
                with routers(count, svc, database_url, args.partitions, logs) as pids:
                    results.append((count, await drain(standin, pids, args.events, args.timeout)))
                    say(f"{count} router(s): {results[-1][1]} (load {loadavg()})")
        finally:
            answering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answering
    print(f"\nrouter workers, sleepy handler ({args.events} events, {args.conversations} conversations, "
          f"{args.partitions} partitions; load {loadavg()}; logs {logs})")  # fmt: skip
    print("| routers | answered | answers/s | router CPU ms per event | ratio to one |")
    print("| --- | --- | --- | --- | --- |")
    base = next((r["rate"] for count, r in results if count == 1), float("nan"))  # the first one-router run
    for count, r in results:
        print(f"| {count} | {r['answered']:.0f} | {r['rate']:.1f} | {r['cpu_ms']:.2f} | {r['rate'] / base:.2f}x |")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=64)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds a drain may take")
    args = parser.parse_args()
    for name in ("NATS_URL", "DATABASE_URL"):
        os.environ.pop(name, None)  # private servers: the session's NATS may be older than 2.10
    with dev_services() as svc:
        asyncio.run(main(svc, args))


if __name__ == "__main__":
    cli()
