"""What every chaos test shares: a steady stream of DM texts from libxmtp clients, the count of the agent's answers
at the libxmtp side (exactly once, lost, twice, the longest pause between answers), the pipeline's state after
recovery (every intent Processed or Error with a reason; crypto's, ingest's and the node's cursors equal), and
devnode as a process of its own that can be SIGKILLed and started again on its port.

    sender = SteadySender(peer, [Chat("alice", dm)], interval_s=0.3)
    task = asyncio.create_task(sender.run(40))
    ...kill things...
    await task
    counts = await settle(peer, sender, stack.agent_inbox_id)
    print(counts.line()); counts.check()
    state = await pipeline_state(database_url, "echo", node_url, nats_url); state.check()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import nats
from crypto.agents import agent_database_url
from peer import LibxmtpPeer, PeerError, PeerTimeout
from pipelinekit import from_agent
from xmtp_core.bus import kv as bus_kv
from xmtp_core.bus import subjects
from xmtp_core.node import NodeClient, NodeError
from xmtp_core.pg_url import plain_pg_url

from switchboard.devservices import die_with_parent, free_port

SWITCHBOARD = str(Path(sys.executable).parent / "switchboard")


@dataclass(frozen=True)
class Chat:
    """One libxmtp client of the peer (`name`) and its DM with the agent."""

    name: str
    dm: str


@dataclass
class SteadySender:
    """Sends `<tag> <client> <i>` from each chat in turn, one text every `interval_s`, whatever else is going on.

    A send libxmtp reports as failed (the node was down) is kept in `failed`, not retried: libxmtp keeps the
    message and publishes it on a later send or sync, so retrying would send it twice. Whether it reached the
    node is read from the conversation afterwards (`settle`)."""

    peer: LibxmtpPeer
    chats: Sequence[Chat]
    interval_s: float = 0.3
    tag: str = "t"
    sent: list[tuple[Chat, str]] = field(default_factory=list)
    failed: list[tuple[Chat, str]] = field(default_factory=list)

    async def run(self, count: int) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i in range(count):
            chat = self.chats[i % len(self.chats)]
            text = f"{self.tag} {chat.name} {i}"
            try:
                await self.peer.send_text(chat.name, chat.dm, text)
                self.sent.append((chat, text))
            except (PeerError, PeerTimeout):
                self.failed.append((chat, text))
            # A steady rate, not send-then-sleep: a slow send does not slow the stream down.
            await asyncio.sleep(max(0.0, start + (i + 1) * self.interval_s - loop.time()))

    @property
    def attempted(self) -> int:
        return len(self.sent) + len(self.failed)


@dataclass
class Counts:
    """The agent's answers as the libxmtp side sees them, against what reached the node."""

    attempted: int
    send_errors: int
    delivered: int  # texts of ours that are on the node (a failed send that libxmtp published later included)
    answered_once: int
    duplicates: int  # texts answered more than once
    lost: int  # delivered texts never answered
    unexpected: int  # answers to nothing we sent
    undelivered_answered: int  # answers to texts libxmtp never published (must be 0)
    longest_pause_s: float  # between consecutive answers, by the node's timestamps
    extra: dict[str, Any] = field(default_factory=dict)
    lost_texts: list[str] = field(default_factory=list)

    def line(self) -> str:
        more = "".join(f", {k} {v}" for k, v in self.extra.items())
        return (
            f"sent {self.attempted} (send errors {self.send_errors}, on the node {self.delivered}), "
            f"answered {self.answered_once} exactly once, duplicates {self.duplicates}, lost {self.lost}, "
            f"unexpected {self.unexpected}, longest pause between answers {self.longest_pause_s:.1f}s{more}"
        )

    def check(self) -> None:
        assert self.duplicates == 0 and self.lost == 0 and self.unexpected == 0, f"{self.line()}: {self.lost_texts}"
        assert self.undelivered_answered == 0 and self.answered_once == self.delivered, self.line()


async def _transcript(peer: LibxmtpPeer, chats: Sequence[Chat]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for chat in {c.dm: c for c in chats}.values():
        out.extend(await peer.messages(chat.name, chat.dm))
    return out


def count(transcript: list[dict[str, Any]], sender: SteadySender, agent_inbox_id: str) -> Counts:
    """The counts of one transcript (every message of every chat, as libxmtp lists them)."""
    ours = {t for _, t in sender.sent} | {t for _, t in sender.failed}
    on_node = {
        str(m["content"])
        for m in transcript
        if m["senderInboxId"] != agent_inbox_id and m.get("deliveryStatus") == "published"
    }
    delivered = ours & on_node
    answers = sorted(from_agent(transcript, agent_inbox_id), key=lambda m: int(m["sentAtNs"]))
    echoed = Counter(str(m["content"]).removeprefix("echo: ") for m in answers)
    times = [int(m["sentAtNs"]) / 1e9 for m in answers]
    return Counts(
        attempted=sender.attempted,
        send_errors=len(sender.failed),
        delivered=len(delivered),
        answered_once=sum(1 for t in delivered if echoed[t] == 1),
        duplicates=sum(1 for t in ours if echoed[t] > 1),
        lost=sum(1 for t in delivered if echoed[t] == 0),
        unexpected=sum(n for t, n in echoed.items() if t not in ours),
        undelivered_answered=sum(1 for t in ours - delivered if echoed[t]),
        longest_pause_s=max((b - a for a, b in itertools.pairwise(times)), default=0.0),
        lost_texts=sorted(t for t in delivered if echoed[t] == 0),
    )


async def settle(
    peer: LibxmtpPeer, sender: SteadySender, agent_inbox_id: str, *, within: float = 240.0, quiet_s: float = 5.0
) -> Counts:
    """Wait until every text of ours that reached the node is answered (or `within` passes), then `quiet_s`
    more, since a text answered twice shows its second answer after the first; the counts of then."""
    deadline = time.monotonic() + within
    while True:
        counts = count(await _transcript(peer, sender.chats), sender, agent_inbox_id)
        # Every send that returned is on the node; only failed ones may be missing from it.
        if (counts.delivered >= len(sender.sent) and counts.lost == 0) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    await asyncio.sleep(quiet_s)
    return count(await _transcript(peer, sender.chats), sender, agent_inbox_id)


@dataclass
class PipelineState:
    """Intents by state, and each topic's cursor in crypto's store, in ingest's KV and on the node."""

    intents: Counter[str]
    errors_without_reason: int
    cursors: dict[str, tuple[int, int | None, int]]  # topic -> (crypto, ingest, node)

    def consistent(self) -> bool:
        settled = set(self.intents) <= {"Processed", "Error"} and self.errors_without_reason == 0
        return settled and all(c == i == n for c, i, n in self.cursors.values()) and bool(self.cursors)

    def line(self) -> str:
        equal = sum(1 for c, i, n in self.cursors.values() if c == i == n)
        return f"intents {dict(self.intents)}; cursors equal (crypto = ingest = node) on {equal}/{len(self.cursors)}"

    def check(self) -> None:
        assert self.consistent(), f"{self.line()}: {self}"


async def pipeline_state(database_url: str, agent: str, node_url: str, nats_servers: list[str]) -> PipelineState:
    conn = await asyncpg.connect(plain_pg_url(agent_database_url(database_url, agent)))
    try:
        rows = await conn.fetch("SELECT state, coalesce(error, '') <> '' AS why FROM intents")
        crypto = {r["topic"]: int(r["last_id"]) for r in await conn.fetch("SELECT topic, last_id FROM cursors")}
    finally:
        await conn.close()
    intents = Counter(str(r["state"]) for r in rows)
    unexplained = sum(1 for r in rows if r["state"] == "Error" and not r["why"])
    nc = await nats.connect(nats_servers)
    try:
        kv = await nc.jetstream().key_value(subjects.KV_INGEST_CURSORS)
        async with NodeClient.for_url(node_url) as node:
            cursors = {
                topic: (
                    last,
                    await bus_kv.get_cursor(kv, agent, subjects.conv_of_node_topic(topic)),
                    await _node_last(node, topic),
                )
                for topic, last in crypto.items()
            }
    finally:
        await nc.close()
    return PipelineState(intents, unexplained, cursors)


async def _node_last(node: NodeClient, topic: str) -> int:
    """The id of the newest envelope on a node topic (0 when it has none)."""
    key = subjects.topic_bytes(subjects.conv_of_node_topic(topic))
    if topic.startswith("group:"):
        page: Any = await node.query_group_messages(key, limit=1, ascending=False)
    else:
        page = await node.query_welcome_messages(key, limit=1, ascending=False)
    return max((int(item.id) for item in page.items), default=0)


async def settled_state(
    database_url: str, agent: str, node_url: str, nats_servers: list[str], *, within: float = 60.0
) -> PipelineState:
    """`pipeline_state` once it is consistent (the last answers' own envelopes come back through ingest and
    crypto a moment after the peer sees them), or as it stands after `within`."""
    deadline = time.monotonic() + within
    while True:
        state = await pipeline_state(database_url, agent, node_url, nats_servers)
        if state.consistent() or time.monotonic() > deadline:
            return state
        await asyncio.sleep(1.0)


@dataclass
class DevnodeProcess:
    """`switchboard devnode` as a child process on a fixed port over `database_url` (its state lives there, so
    a SIGKILL loses nothing the node acknowledged), dying with the test process."""

    database_url: str
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers."""
        self._launch()
        assert self.proc is not None
        await node_ready(self.url, within=180, proc=self.proc)  # a loaded machine starts it slowly

    def _launch(self) -> None:
        # From the loop's (main) thread: the child's parent-death signal follows the thread that forks it.
        argv, preexec = die_with_parent([SWITCHBOARD, "devnode", "--listen", f"127.0.0.1:{self.port}"])
        env = {**os.environ, "DATABASE_URL": self.database_url}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec
            )
        self.starts += 1

    def kill(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


async def node_ready(url: str, within: float = 60.0, *, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Until devnode answers three calls in a row (its pool drops the connections a Postgres restart broke)."""
    deadline = time.monotonic() + within
    ok = 0
    async with NodeClient.for_url(url) as client:
        while ok < 3:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"devnode exited with code {proc.returncode}")
            try:
                await client.query_group_messages(b"\x01" * 16)
                ok += 1
            except NodeError:
                ok = 0
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
