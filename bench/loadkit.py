"""What the write-limit benchmark, the soak and the write-pacing test share: fresh databases, cheap senders (our own
`xmtp_core` runtime, each an installation with its own node connection and store), the pipeline's answer count
(SB_RES), devnode's per-connection counters given to the processes that hold the connections, and RSS per
process tree."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import asyncpg
import psutil
from nats.js import JetStreamContext
from xmtp_core.bus import subjects
from xmtp_core.engine import MessageReceived
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.node import NodeClient
from xmtp_core.pg_url import plain_pg_url
from xmtp_core.runtime import Runtime
from xmtp_core.store import EncryptionKey, KeyRing, Store

from switchboard.devservices import dev_services


async def new_database(admin_url: str, prefix: str = "load") -> str:
    """A fresh database next to `admin_url`'s (left for the private server's teardown to drop)."""
    admin = plain_pg_url(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin.rsplit("/", 1)[0] + "/" + name


@dataclass
class Sender:
    """One sender installation: a runtime on a node connection of its own, one DM with the agent, and (with
    `listen`) the agent's answers, decrypted, as (text, server time ns)."""

    runtime: Runtime
    node: NodeClient
    store: Store
    dm: bytes = b""
    answers: list[tuple[str, int]] = field(default_factory=list)
    sent: int = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, node_url: str, database_url: str) -> AsyncIterator[Sender]:
        # Channels of one process to one target share a TCP connection unless told not to; devnode counts per
        # connection, and every sender must count as the client it is.
        node = NodeClient.for_url(node_url, extra_options=(("grpc.use_local_subchannel_pool", 1),))
        store = await Store.open(database_url, KeyRing(EncryptionKey.generate()))
        try:
            yield cls(await Runtime.register(node, store, LocalWalletSigner.generate()), node, store)
        finally:
            await store.close()
            await node.close()

    async def open_dm(self, agent_inbox_id: str) -> None:
        self.dm = await self.runtime.create_dm(agent_inbox_id)

    async def send(self, text: str) -> None:
        await self.runtime.send(self.dm, text, wait=False)
        self.sent += 1

    async def listen(self, agent_inbox_id: str) -> None:
        """Until cancelled: keep the agent's answers."""
        async for event in self.runtime.stream():
            if isinstance(event, MessageReceived) and event.sender_inbox_id == agent_inbox_id:
                self.answers.append((str(event.content.value), event.sent_ns))


async def answered(js: JetStreamContext) -> int:
    """Results the publisher reported (one per intent build the node took or refused): the pipeline's sends."""
    return int((await js.stream_info(subjects.SB_RES)).state.last_seq)


async def at_rate(rate: float, seconds: float, senders: list[Sender], prefix: str) -> int:
    """Send round robin over `senders` at `rate` texts/s for `seconds` (each sender in order; senders
    concurrently); the texts sent. A sender that falls behind its schedule sends back to back to catch up, and
    stops at the end of the `seconds` (so what it could not send shows as a rate below `rate`)."""
    per_sender = rate / len(senders)
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = start + seconds

    async def one(index: int, sender: Sender) -> int:
        n = 0
        offset = index / rate  # senders staggered over one period
        while (due := start + offset + n / per_sender) < end and loop.time() < end:
            await asyncio.sleep(max(0.0, due - loop.time()))
            await sender.send(f"{prefix}{index}.{n}")
            n += 1
        return n

    return sum(await asyncio.gather(*(one(i, s) for i, s in enumerate(senders))))


def port_owners(pids: Iterable[int], remote_port: int | None = None) -> dict[int, int]:
    """Local TCP port -> pid, for the given processes and their descendants (with `remote_port`: only their
    connections to it). Linux gives one ephemeral port to several connections with different remote ends, so
    without `remote_port` a process's connection to Postgres can claim another process's port to the node."""
    owners: dict[int, int] = {}
    for pid in tree(pids):
        with contextlib.suppress(psutil.Error):
            for conn in psutil.Process(pid).net_connections(kind="tcp"):
                if conn.laddr and (remote_port is None or (conn.raddr and conn.raddr.port == remote_port)):
                    owners[conn.laddr.port] = pid
    return owners


def tree(pids: Iterable[int]) -> set[int]:
    out: set[int] = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            out.add(pid)
            out.update(child.pid for child in proc.children(recursive=True))
    return out


def calls_by(tally: dict[tuple[str, str], tuple[int, int]], ports: dict[int, int], pids: set[int]) -> Counter[str]:
    """devnode's counts ("write", "read", "write_refused", "read_refused") of the connections `pids` hold."""
    out: Counter[str] = Counter()
    for (peer, kind), (calls, refused) in tally.items():
        port = peer.rsplit(":", 1)[-1]
        if port.isdigit() and ports.get(int(port)) in pids:
            out[kind] += calls
            out[f"{kind}_refused"] += refused
    return out


def rss_mib(pids: Iterable[int]) -> float:
    """Resident memory of the processes and their descendants, MiB."""
    total = 0
    for pid in tree(pids):
        with contextlib.suppress(psutil.Error):
            total += psutil.Process(pid).memory_info().rss
    return total / 2**20


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def load_cli(
    doc: str,
    run: Callable[..., Awaitable[None]],
    *,
    minutes: float,
    rate: float,
    senders: int,
    more: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """`--minutes`, `--rate` (texts/s) and `--senders`, then `run(svc, minutes, rate, senders, **others)` on private
    NATS and Postgres; `more` adds a script's own options, given to `run` by keyword as `others`."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=minutes)
    parser.add_argument("--rate", type=float, default=rate, help="texts/s offered to the agent")
    parser.add_argument("--senders", type=int, default=senders, help="sender installations")
    if more is not None:
        more(parser)
    others = vars(parser.parse_args())
    args = [others.pop(name) for name in ("minutes", "rate", "senders")]
    with dev_services() as svc:  # outside the event loop: it waits for its servers synchronously
        asyncio.run(run(svc, *args, **others))
