"""devnode, run as a process of its own (`switchboard devnode`), SIGKILLed while a libxmtp user's steady stream of
DM texts is being answered, and started again on the same port over the same Postgres database: afterwards every
text that reached the node is answered exactly once (counted at the libxmtp side), every intent is Processed or
Error with a reason, and crypto's, ingest's and the node's cursors agree. Short form in `make test` (one kill);
`make chaos` (SB_CHAOS_FULL=1) kills it three times under a longer stream. The counts are printed.

The peer counts by syncing its conversations (`messages` syncs first), not through a stream: a stream's recovery
after its node went away is libxmtp's business, and a sync reads what is on the node either way."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from chaoskit import Chat, DevnodeProcess, SteadySender, settle, settled_state
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for

from switchboard.devservices import DevServices

pytestmark = pytest.mark.interop
FULL = os.environ.get("SB_CHAOS_FULL") == "1"
KILLS = 3 if FULL else 1
TEXTS = 60 if FULL else 16
INTERVAL_S = 0.5
DOWN_S = 2.0  # how long the node stays dead: sends fail meanwhile, ingest's and publisher's calls too


async def test_devnode_killed_mid_stream_every_text_answered_once(
    peer: LibxmtpPeer, database_url: str, services: DevServices, tmp_path: Path
) -> None:
    node = DevnodeProcess(database_url, tmp_path / "devnode.log")
    await node.start()
    fast = {"SB_ACK_WAIT_S": "3", "SB_NAK_DELAY_S": "0.2"}
    try:
        async with Stack.start(node.url, database_url, services.nats_url, extra_env=fast) as stack:
            await peer.create("alice", node.url)
            dm = (await peer.create_dm("alice", stack.agent_inbox_id))["id"]
            sender = SteadySender(peer, [Chat("alice", dm)], interval_s=INTERVAL_S, tag="devnode")
            stream = asyncio.create_task(sender.run(TEXTS))
            pauses: list[float] = []
            for k in range(KILLS):
                # Kill once answers are flowing, at evenly spread points of the stream.
                at = 2 + k * TEXTS // (KILLS + 1)
                await wait_for(lambda: _answers(peer, dm, stack), lambda n, at=at: n >= at, within=180)
                node.kill()
                began = time.monotonic()
                await asyncio.sleep(DOWN_S)
                await node.start()
                pauses.append(time.monotonic() - began)
            await stream
            counts = await settle(peer, sender, stack.agent_inbox_id)
            counts.extra["devnode kills"] = KILLS
            state = await settled_state(database_url, stack.agent, node.url, [services.nats_url])
            print(f"\nchaos devnode: {counts.line()}; node down {', '.join(f'{p:.1f}s' for p in pauses)}")
            print(f"chaos devnode: {state.line()}")
            counts.check()
            state.check()
            stack.check_alive()
    finally:
        node.stop()


async def _answers(peer: LibxmtpPeer, dm: str, stack: Stack) -> int:
    return len(from_agent(await peer.messages("alice", dm), stack.agent_inbox_id))
