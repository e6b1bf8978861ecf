"""The wizard example through the whole pipeline with libxmtp 1.9.1: `/signup` asked in a group opens a DM with
the asker (an Actions message), the router is SIGKILLed mid-flow and a new one started, and the flow completes
in the DM with the answers given before and after the restart (sessions in Postgres)."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for
from xmtp_core.content import Intent, default_registry

from switchboard.devservices import DevServices

pytestmark = pytest.mark.interop
APP = "examples.wizard:agent"


@pytest.fixture
async def stack(devnode_url: str, database_url: str, services: DevServices) -> AsyncIterator[Stack]:
    async with Stack.start(devnode_url, database_url, services.nats_url, app=APP, agent="wizard") as running:
        yield running


async def test_a_wizard_started_in_a_group_completes_in_a_dm_across_a_router_restart(
    peer: LibxmtpPeer, devnode_url: str, stack: Stack
) -> None:
    await peer.create("alice", devnode_url)
    agent = stack.agent_inbox_id
    group = await peer.create_group("alice", [agent], group_name="club")
    await peer.send_text("alice", group["id"], "/signup")

    async def dm_with_agent() -> list[dict[str, Any]]:
        return [c for c in await peer.list_conversations("alice") if c["type"] == "dm"]

    (dm,) = await wait_for(dm_with_agent, bool, within=120)

    async def answers() -> list[dict[str, Any]]:
        return from_agent(await peer.messages("alice", dm["id"]), agent)

    (prompt,) = await wait_for(answers, lambda got: len(got) >= 1, within=120)
    assert prompt["contentType"] == "coinbase.com/actions:1.0" and prompt["content"]["id"] == "signup:plan"
    encoded = default_registry().encode(Intent("signup:plan", "pro"))
    t = encoded.type
    await peer.send_encoded(
        "alice", dm["id"], authority_id=t.authority_id, type_id=t.type_id, content=encoded.content,
        version_major=t.version_major, version_minor=t.version_minor, fallback=encoded.fallback,
    )  # fmt: skip
    got = await wait_for(answers, lambda got: len(got) >= 2, within=120)
    assert got[1]["content"] == "Your name?"

    stack.kill("router", 0, signal.SIGKILL)
    stack.spawn("router", 1, "--app", APP)
    await peer.send_text("alice", dm["id"], "Alice")
    got = await wait_for(answers, lambda got: len(got) >= 3, within=120)
    assert got[2]["content"] == "welcome Alice, you are on the pro plan"
    assert from_agent(await peer.messages("alice", group["id"]), agent) == []  # nothing of it in the group
