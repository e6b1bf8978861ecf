"""NATS and Postgres restarted (SIGKILL, then started again on the same port with their data) while a libxmtp
user's steady stream of DM texts is being answered: afterwards every text is answered exactly once (counted at
the libxmtp side). Short form in `make test` (one restart of each); `make chaos` (SB_CHAOS_FULL=1) restarts each
three times under a longer stream. The counts are printed."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from devnode.main import start as start_devnode
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for
from xmtp_core.node import NodeClient, NodeError

from switchboard.devservices import dev_services, restart

pytestmark = pytest.mark.interop
FULL = os.environ.get("SB_CHAOS_FULL") == "1"
ROUNDS = 3 if FULL else 1
PER_BATCH = 10 if FULL else 4


async def node_ready(url: str, within: float = 60.0) -> None:
    """Until devnode answers three calls in a row (its pool drops the connections a Postgres restart broke)."""
    deadline = time.monotonic() + within
    ok = 0
    async with NodeClient.for_url(url) as client:
        while ok < 3:
            try:
                await client.query_group_messages(b"\x01" * 16)
                ok += 1
            except NodeError:
                ok = 0
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)


async def test_nats_and_postgres_restarted_mid_stream_answer_every_text_once(
    peer: LibxmtpPeer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    # Servers of this test's own (restarting them disturbs no other test), their logs kept in tmp_path.
    with dev_services(state_dir=tmp_path) as svc:
        node = await start_devnode("127.0.0.1:0", svc.database_url)
        node_url = f"http://127.0.0.1:{node.port}"
        fast = {"SB_ACK_WAIT_S": "3", "SB_NAK_DELAY_S": "0.2"}
        try:
            async with Stack.start(node_url, svc.database_url, svc.nats_url, extra_env=fast) as stack:
                await peer.create("alice", node_url)
                dm = (await peer.create_dm("alice", stack.agent_inbox_id))["id"]
                sent: list[str] = []
                restarts: Counter[str] = Counter()
                pauses: list[float] = []
                for round_ in range(ROUNDS):
                    for victim in ("nats", "postgres"):
                        for i in range(PER_BATCH):
                            text = f"{victim} {round_} {i}"
                            await peer.send_text("alice", dm, text)
                            sent.append(text)
                        began = time.monotonic()
                        # Called on the loop's thread: the restarted server's parent-death signal follows the
                        # thread that starts it (this one lives as long as the test).
                        restart(svc, victim)
                        await node_ready(node_url)
                        pauses.append(time.monotonic() - began)
                        restarts[victim] += 1
                for i in range(PER_BATCH):
                    text = f"after {i}"
                    await peer.send_text("alice", dm, text)
                    sent.append(text)

                async def answers() -> list[dict[str, Any]]:
                    return from_agent(await peer.messages("alice", dm), stack.agent_inbox_id)

                got = await wait_for(answers, lambda a: len(a) >= len(sent), within=240, every=1.0)
                await asyncio.sleep(5)  # anything sent twice would show up now
                got = await answers()
                counts = Counter(str(m["content"]) for m in got)
                print(
                    f"\nchaos: {dict(restarts)} restarts; {len(sent)} texts sent, {len(got)} answers, "
                    f"{sum(1 for t in sent if counts[f'echo: {t}'] == 1)} answered exactly once; "
                    f"restart pauses {', '.join(f'{p:.1f}s' for p in pauses)}"
                )
                assert counts == Counter({f"echo: {t}": 1 for t in sent}), counts
                stack.check_alive()
        finally:
            await node.stop(0)
