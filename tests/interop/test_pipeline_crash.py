"""Crypto killed (SIGKILL) while a libxmtp user's burst is being answered, then started again: every message is
answered exactly once and in order (nothing lost between an envelope's commit and its events' publish, nothing
re-emitted twice)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for

from switchboard.devservices import DevServices

pytestmark = pytest.mark.interop

BURST = 30


@pytest.mark.parametrize("victim", ["crypto", "router", "publisher", "ingest"])
async def test_a_service_killed_mid_burst_loses_nothing_and_repeats_nothing(
    victim: str, peer: LibxmtpPeer, devnode_url: str, database_url: str, services: DevServices
) -> None:
    fast = {"SB_ACK_WAIT_S": "3", "SB_NAK_DELAY_S": "0.2"}
    async with Stack.start(devnode_url, database_url, services.nats_url, extra_env=fast) as stack:
        await peer.create("alice", devnode_url)
        dm = (await peer.create_dm("alice", stack.agent_inbox_id))["id"]
        agent = stack.agent_inbox_id

        async def answers() -> list[Any]:
            return [m["content"] for m in from_agent(await peer.messages("alice", dm), agent)]

        for i in range(BURST):
            await peer.send_text("alice", dm, f"m{i}")
        await wait_for(answers, lambda got: len(got) >= 5, within=60, every=0.1)
        stack.kill(victim, 0, signal.SIGKILL)
        stack.spawn(victim, 1, *(["--app", "examples.echo:agent"] if victim == "router" else []))
        await wait_for(answers, lambda got: len(got) >= BURST, within=120, every=0.5)
        await asyncio.sleep(3)  # a repeat would arrive by now (redeliveries come after the 3 s ack wait)
        assert await answers() == [f"echo: m{i}" for i in range(BURST)]
