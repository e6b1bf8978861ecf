"""The echo agent through the whole pipeline (ingest, crypto, router, publisher as processes; devnode, NATS and
Postgres on this machine), driven by a cheap sender (our own `xmtp_core` runtime, so the sender does not
dominate the figures as a libxmtp client would):

- latency of one echo: a `ping` sent, the `pong` received by the sender's stream (p50 / p90 / max of N);
- burst: M texts sent back to back, time until every answer arrived, and messages/s.

    .venv/bin/python bench/pipeline.py [--pings 20] [--burst 100]

Figures are printed, never asserted (`bench/README.md` keeps the latest)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `bench/devnode.py` would shadow the devnode package: the test kit is taken from its folder instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
sys.path.append(str(ROOT / "bench"))  # loadkit, after the packages

from devnode.main import start  # noqa: E402
from loadkit import new_database  # noqa: E402
from pipelinekit import Stack  # noqa: E402
from xmtp_core.engine import MessageReceived  # noqa: E402
from xmtp_core.identity import LocalWalletSigner  # noqa: E402
from xmtp_core.node import NodeClient  # noqa: E402
from xmtp_core.pg_url import plain_pg_url  # noqa: E402
from xmtp_core.runtime import Runtime  # noqa: E402
from xmtp_core.store import EncryptionKey, KeyRing, Store  # noqa: E402

from switchboard.devservices import DevServices, dev_services  # noqa: E402


async def run(svc: DevServices, pings: int, burst: int) -> None:
    admin = plain_pg_url(svc.database_url)
    node_db = await new_database(admin, "bench_node")
    devnode = await start("127.0.0.1:0", node_db)
    url = f"http://127.0.0.1:{devnode.port}"
    try:
        async with Stack.start(url, node_db, svc.nats_url, partitions=8) as stack, NodeClient.for_url(url) as node:
            store = await Store.open(await new_database(admin, "bench_sender"), KeyRing(EncryptionKey.generate()))
            me = await Runtime.register(node, store, LocalWalletSigner.generate())
            dm = await me.create_dm(stack.agent_inbox_id)
            answers: asyncio.Queue[tuple[float, str]] = asyncio.Queue()

            async def listen() -> None:
                async for event in me.stream():
                    if isinstance(event, MessageReceived) and event.sender_inbox_id == stack.agent_inbox_id:
                        await answers.put((time.perf_counter(), str(event.content.value)))

            listener = asyncio.create_task(listen())
            await asyncio.sleep(1.0)
            latencies = []
            for _ in range(pings):
                sent = time.perf_counter()
                await me.send(dm, "ping", wait=False)
                got, text = await asyncio.wait_for(answers.get(), 60)
                assert text == "pong", text
                latencies.append((got - sent) * 1000)
            started = time.perf_counter()
            for i in range(burst):
                await me.send(dm, f"b{i}", wait=False)
            sent_s = time.perf_counter() - started
            texts = [(await asyncio.wait_for(answers.get(), 120))[1] for _ in range(burst)]
            total_s = time.perf_counter() - started
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await store.close()
    finally:
        await devnode.stop()
    in_order = texts == [f"echo: b{i}" for i in range(burst)]
    latencies.sort()
    print("| measurement | result |")
    print("| --- | --- |")
    print(
        f"| one echo, ping -> pong ({pings} in a row) | p50 {statistics.median(latencies):.1f} ms, "
        f"p90 {latencies[int(len(latencies) * 0.9) - 1]:.1f} ms, max {latencies[-1]:.1f} ms |"
    )
    print(f"| burst of {burst} texts | sent in {sent_s:.2f} s; all answered after {total_s:.2f} s "
          f"({burst / total_s:.1f} msg/s){'' if in_order else ' NOT IN ORDER'} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pings", type=int, default=20)
    parser.add_argument("--burst", type=int, default=100)
    args = parser.parse_args()
    with dev_services() as svc:  # outside the event loop: it waits for its servers synchronously
        asyncio.run(run(svc, args.pings, args.burst))


if __name__ == "__main__":
    main()
