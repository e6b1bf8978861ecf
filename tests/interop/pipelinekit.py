"""The whole pipeline as separate processes for tests: `switchboard ingest|crypto|publisher|router` against a
devnode, the session's NATS (JetStream state wiped first) and a fresh Postgres database, with one agent.

    async with Stack.start(devnode_url, database_url, nats_url, app="examples.echo:agent") as stack:
        stack.agent_inbox_id, stack.agent_address
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.js.errors import KeyNotFoundError
from xmtp_core.bus import kv as bus_kv
from xmtp_core.bus import subjects
from xmtp_core.bus.schemas import parse
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import delete_all, ensure_buckets, ensure_streams

ROOT = Path(__file__).resolve().parents[2]
SWITCHBOARD = str(Path(sys.executable).parent / "switchboard")


@dataclass
class Stack:
    env: dict[str, str]
    logs: Path
    agent: str
    procs: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)
    agent_inbox_id: str = ""
    agent_address: str = ""
    inbox_ids: dict[str, str] = field(default_factory=dict)  # every agent's, by name

    @classmethod
    @contextlib.asynccontextmanager
    async def start(
        cls,
        api_url: str,
        database_url: str,
        nats_url: str,
        *,
        app: str = "examples.echo:agent",
        agent: str = "echo",
        replicas: dict[str, int] | None = None,
        partitions: int = 4,
        extra_env: dict[str, str] | None = None,
        more_agents: dict[str, str] | None = None,
        more_agents_routers: int | None = None,
    ) -> AsyncIterator[Stack]:
        """``more_agents``: further agents of the same deployment (name -> app), each with its own keys; they run
        in a router process each, or (``more_agents_routers``: N) spread over N router processes (`--app` repeated)."""
        await _fresh_bus(nats_url, partitions)
        others = more_agents or {}
        env = {
            **os.environ,
            "NATS_URL": nats_url,
            "DATABASE_URL": database_url,
            "XMTP_ENV": "local",
            "XMTP_API_URL": api_url,
            "SB_AGENTS": ",".join([agent, *others]),
            "SB_PARTITIONS": str(partitions),
            "XMTP_WALLET_KEY": "0x" + secrets.token_hex(32),
            "XMTP_DB_ENCRYPTION_KEY": secrets.token_hex(32),
            "LOG_LEVEL": "INFO",
            **{f"XMTP_WALLET_KEY_{name.upper()}": "0x" + secrets.token_hex(32) for name in others},
            **(extra_env or {}),
        }
        logs = Path(tempfile.mkdtemp(prefix="sb-stack-"))
        stack = cls(env, logs, agent)
        counts = {"publisher": 1, "crypto": 1, "ingest": 1, "router": 1, **(replicas or {})}
        try:
            for service in ("publisher", "crypto"):
                for i in range(counts[service]):
                    stack.spawn(service, i)
            await stack._wait_agent(nats_url)
            for name in others:
                stack.inbox_ids[name] = (await _agent_record(nats_url, name, stack))[0]
            for i in range(counts["ingest"]):
                stack.spawn("ingest", i)
            for i in range(counts["router"]):
                stack.spawn("router", i, "--app", app)
            other_apps = list(others.values())
            groups = len(other_apps) if more_agents_routers is None else max(1, more_agents_routers)
            for n in range(min(groups, len(other_apps))):
                args = [arg for other_app in other_apps[n::groups] for arg in ("--app", other_app)]
                stack.spawn("router", 100 + n, *args)
            await asyncio.sleep(1.0)  # consumers bound, subscriptions open
            stack.check_alive()
            yield stack
        except BaseException:
            stack.dump_logs()
            raise
        finally:
            stack.stop()

    def spawn(self, service: str, index: int, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{service}-{index}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [SWITCHBOARD, service, *args], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.procs.setdefault(service, []).append(proc)
        return proc

    def kill(self, service: str, index: int = 0, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[service][index]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=10)

    def check_alive(self) -> None:
        dead = [f"{s}-{i}" for s, ps in self.procs.items() for i, p in enumerate(ps) if p.poll() is not None]
        if dead:
            raise RuntimeError(f"services exited: {dead}\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        out = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    def dump_logs(self) -> None:
        print(self.tail(), file=sys.stderr)

    def stop(self) -> None:
        for procs in self.procs.values():
            for proc in procs:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGTERM)
        for procs in self.procs.values():
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)

    async def _wait_agent(self, nats_url: str) -> None:
        self.agent_inbox_id, self.agent_address = await _agent_record(nats_url, self.agent, self)
        self.inbox_ids[self.agent] = self.agent_inbox_id


async def _agent_record(nats_url: str, agent: str, stack: Stack, within: float = 90.0) -> tuple[str, str]:
    """(inbox id, address) of an agent once crypto registered it (KV `sb_agents`)."""
    nc = await nats.connect(nats_url)
    try:
        kv = await nc.jetstream().key_value(subjects.KV_AGENTS)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            stack.check_alive()
            with contextlib.suppress(KeyNotFoundError):
                entry = await kv.get(agent)
                if entry.value:
                    record = parse(bus_kv.AgentRecord, entry.value)
                    return record.inbox_id, record.address or ""
            await asyncio.sleep(0.2)
    finally:
        await nc.close()
    raise TimeoutError(f"agent {agent} did not register in {within}s\n{stack.tail()}")


async def _fresh_bus(nats_url: str, partitions: int) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await delete_all(js)
        settings = BusSettings(nats_url=nats_url, partitions=partitions)
        await ensure_streams(js, settings)
        await ensure_buckets(js, settings)
    finally:
        await nc.close()


async def wait_for(
    probe: Callable[[], Any], check: Callable[[Any], bool], *, within: float = 60.0, every: float = 0.3
) -> Any:
    """Poll ``probe()`` until ``check`` holds on its result; the last result is in the error otherwise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: Any = None
    while loop.time() < deadline:
        last = await probe()
        if check(last):
            return last
        await asyncio.sleep(every)
    raise AssertionError(f"not reached in {within}s; last: {last!r}")


def from_agent(messages: Sequence[dict[str, Any]], inbox_id: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["senderInboxId"] == inbox_id and m["kind"] == "application"]
