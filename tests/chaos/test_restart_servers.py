"""NATS and Postgres restarted (SIGKILL, then started again on the same port with their data) while a libxmtp
user's steady stream of DM texts is being answered: afterwards every text that reached the node is answered
exactly once (counted at the libxmtp side), every intent is Processed or Error with a reason, and crypto's,
ingest's and the node's cursors agree. Short form in `make test` (one restart of each); `make chaos`
(SB_CHAOS_FULL=1) restarts each three times under a longer stream. The counts are printed."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from chaoskit import Chat, SteadySender, node_ready, settle, settled_state
from devnode.main import start as start_devnode
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for

from switchboard.devservices import dev_services, restart

pytestmark = pytest.mark.interop
FULL = os.environ.get("SB_CHAOS_FULL") == "1"
ROUNDS = 3 if FULL else 1
TEXTS = 60 if FULL else 16
INTERVAL_S = 0.4


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
                sender = SteadySender(peer, [Chat("alice", dm)], interval_s=INTERVAL_S, tag="restart")
                stream = asyncio.create_task(sender.run(TEXTS))
                restarts: Counter[str] = Counter()
                pauses: list[float] = []

                async def answered() -> int:
                    return len(from_agent(await peer.messages("alice", dm), stack.agent_inbox_id))

                victims = [v for _ in range(ROUNDS) for v in ("nats", "postgres")]
                for k, victim in enumerate(victims):
                    at = 2 + k * TEXTS // (len(victims) + 1)  # restarts spread over the stream
                    await wait_for(answered, lambda n, at=at: n >= at, within=240)
                    began = time.monotonic()
                    # Called on the loop's thread: the restarted server's parent-death signal follows the
                    # thread that starts it (this one lives as long as the test).
                    restart(svc, victim)
                    await node_ready(node_url)
                    pauses.append(time.monotonic() - began)
                    restarts[victim] += 1
                await stream
                counts = await settle(peer, sender, stack.agent_inbox_id)
                counts.extra["restarts"] = dict(restarts)
                state = await settled_state(svc.database_url, stack.agent, node_url, [svc.nats_url])
                print(f"\nchaos servers: {counts.line()}; restart pauses {', '.join(f'{p:.1f}s' for p in pauses)}")
                print(f"chaos servers: {state.line()}")
                counts.check()
                state.check()
                stack.check_alive()
        finally:
            await node.stop(0)
