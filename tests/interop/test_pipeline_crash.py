"""Each service SIGKILLed while a libxmtp user's burst is being answered, then started again: every message is
answered exactly once and in order (nothing lost between an envelope's commit and its events' publish, nothing
re-emitted twice). One pipeline serves the four kills, one burst each, one service after the other: a kill's
burst starts only once the previous one is fully answered and quiet, so each burst's answers are its own."""

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
VICTIMS = ("crypto", "router", "publisher", "ingest")


async def test_each_service_killed_mid_burst_loses_nothing_and_repeats_nothing(
    peer: LibxmtpPeer, devnode_url: str, database_url: str, services: DevServices
) -> None:
    fast = {"SB_ACK_WAIT_S": "3", "SB_NAK_DELAY_S": "0.2"}
    async with Stack.start(devnode_url, database_url, services.nats_url, extra_env=fast) as stack:
        await peer.create("alice", devnode_url)
        dm = (await peer.create_dm("alice", stack.agent_inbox_id))["id"]
        agent = stack.agent_inbox_id

        async def answers() -> list[Any]:
            return [m["content"] for m in from_agent(await peer.messages("alice", dm), agent)]

        expected: list[str] = []
        for victim in VICTIMS:
            burst = [f"{victim} m{i}" for i in range(BURST)]
            for text in burst:
                await peer.send_text("alice", dm, text)
            # Killed once this burst's answers flow (the earlier bursts' answers are all in already).
            flowing = len(expected) + 5
            await wait_for(answers, lambda got, n=flowing: len(got) >= n, within=60, every=0.1)
            live = len(stack.procs[victim]) - 1  # the replacement of the previous kill, if any
            stack.kill(victim, live, signal.SIGKILL)
            stack.spawn(victim, live + 1, *(["--app", "examples.echo:agent"] if victim == "router" else []))
            expected += [f"echo: {text}" for text in burst]
            total = len(expected)
            await wait_for(answers, lambda got, n=total: len(got) >= n, within=120, every=0.5)
            await asyncio.sleep(3)  # a repeat would arrive by now (redeliveries come after the 3 s ack wait)
            assert await answers() == expected, f"after {victim} was killed"
        exited = [service for service, procs in stack.procs.items() if procs[-1].poll() is not None]
        assert not exited, f"replacements exited: {exited}\n{stack.tail()}"
