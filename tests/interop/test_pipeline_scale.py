"""Two crypto replicas and two router workers share the load: 200 messages from libxmtp over 20 conversations,
each conversation's answers in order, and both router workers used."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for

from switchboard.devservices import DevServices

pytestmark = pytest.mark.interop

CONVERSATIONS = 20
PER_CONVERSATION = 10


async def test_two_crypto_replicas_and_two_router_workers(
    peer: LibxmtpPeer, devnode_url: str, database_url: str, services: DevServices
) -> None:
    replicas = {"crypto": 2, "router": 2}
    async with Stack.start(devnode_url, database_url, services.nats_url, replicas=replicas, partitions=8) as stack:
        await peer.create("alice", devnode_url)
        groups = [
            (await peer.create_group("alice", [stack.agent_inbox_id], f"load {i}"))["id"] for i in range(CONVERSATIONS)
        ]
        started = time.monotonic()
        for n in range(PER_CONVERSATION):
            for i, group in enumerate(groups):
                await peer.send_text("alice", group, f"c{i} m{n}")
        sent = time.monotonic() - started

        async def answered() -> dict[str, list[Any]]:
            got = {}
            for group in groups:
                got[group] = [
                    m["content"] for m in from_agent(await peer.messages("alice", group), stack.agent_inbox_id)
                ]
            return got

        got = await wait_for(
            answered, lambda g: all(len(v) >= PER_CONVERSATION for v in g.values()), within=180, every=2.0
        )
        elapsed = time.monotonic() - started
        for i, group in enumerate(groups):
            assert got[group] == [f"echo: c{i} m{n}" for n in range(PER_CONVERSATION)], group
        print(
            f"{CONVERSATIONS * PER_CONVERSATION} messages over {CONVERSATIONS} conversations: sent in {sent:.1f}s, "
            f"all answered after {elapsed:.1f}s"
        )
        await asyncio.sleep(0)
    handled = []
    for path in sorted(stack.logs.glob("router-*.log")):
        found = re.findall(r"handled (\d+) events", path.read_text(errors="replace"))
        assert found, f"{path.name} did not report what it handled"
        handled.append(int(found[-1]))
    print(f"events handled per router worker: {handled}")
    assert len(handled) == 2 and all(h > 0 for h in handled)
    assert sum(handled) >= CONVERSATIONS * PER_CONVERSATION
