"""The moderator and payments examples through the whole pipeline with libxmtp 1.9.1 (node-sdk 5.5.0) as users:
a group made on request with the asker as admin, admin commands that add, rename and remove (a non-admin is
refused), a welcome on a member libxmtp added; a wallet-send-calls from the sender's own address (crypto reads
it from the verified identity log) to the agent's, and a transaction reference thanked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for
from xmtp_core.content import TransactionReference, default_registry

from switchboard.devservices import DevServices

pytestmark = pytest.mark.interop


@pytest.fixture
async def stack(devnode_url: str, database_url: str, services: DevServices) -> AsyncIterator[Stack]:
    async with Stack.start(
        devnode_url, database_url, services.nats_url, app="examples.moderator:agent", agent="moderator",
        more_agents={"payments": "examples.payments:agent"},
    ) as running:  # fmt: skip
        yield running


def _texts(messages: list[dict[str, Any]]) -> list[Any]:
    return [m["content"]["content"] if m["contentType"].startswith("xmtp.org/reply") else m["content"]
            for m in messages]  # fmt: skip


async def test_the_moderator_manages_a_group_for_its_admins(peer: LibxmtpPeer, devnode_url: str, stack: Stack) -> None:
    alice, bob, carol = [await peer.create(n, devnode_url) for n in ("alice", "bob", "carol")]
    mod = stack.agent_inbox_id
    dm = (await peer.create_dm("alice", mod))["id"]
    await peer.send_text("alice", dm, "/group club")

    async def club() -> list[dict[str, Any]]:
        return [c for c in await peer.list_conversations("alice") if c["name"] == "club"]

    (group,) = await wait_for(club, bool, within=120)
    gid = group["id"]

    async def said(count: int) -> list[Any]:
        async def probe() -> list[Any]:
            return _texts(from_agent(await peer.messages("alice", gid), mod))

        got: list[Any] = await wait_for(probe, lambda got: len(got) >= count, within=120)
        return got

    assert await said(1) == ["welcome to club"]
    await peer.send_text("alice", gid, f"/add {bob.inbox_id}")
    assert (await said(2))[1] == "added 1"
    assert bob.inbox_id in {m["inboxId"] for m in await peer.members("alice", gid)}
    await peer.sync_all("bob")
    await peer.send_text("bob", gid, f"/kick {alice.inbox_id}")
    assert (await said(3))[2] == "only admins can do that"
    await peer.send_text("alice", gid, "/rename Club Two")
    assert (await said(4))[3] == "renamed"
    assert await peer.group_name("alice", gid) == "Club Two"
    await peer.add_members("alice", gid, [carol.inbox_id])  # a libxmtp commit: the group-update event
    assert (await said(5))[4] == "welcome, 1 new member(s)"
    await peer.send_text("alice", gid, f"/kick {bob.inbox_id}")
    assert (await said(6))[5] == "removed 1"
    assert bob.inbox_id not in {m["inboxId"] for m in await peer.members("alice", gid)}


async def test_payments_asks_for_a_transfer_from_the_senders_address(
    peer: LibxmtpPeer, devnode_url: str, stack: Stack
) -> None:
    alice = await peer.create("alice", devnode_url)
    agent = stack.inbox_ids["payments"]
    dm = (await peer.create_dm("alice", agent))["id"]
    await peer.send_text("alice", dm, "/pay 1.5")

    async def answers() -> list[dict[str, Any]]:
        return from_agent(await peer.messages("alice", dm), agent)

    (request,) = await wait_for(answers, bool, within=120)
    assert request["contentType"] == "xmtp.org/walletSendCalls:1.0"
    calls = request["content"]
    assert calls["from"] == alice.address.lower() and calls["chainId"] == "0x14a34"
    (call,) = calls["calls"]
    assert call["to"] == "0x036cbd53842c5426634e7929541ec2318f3dcf7e"
    assert call["data"].startswith("0xa9059cbb") and call["data"].endswith(format(1_500_000, "064x"))
    encoded = default_registry().encode(TransactionReference("0x" + "ab" * 32, 84532, "eip155"))
    t = encoded.type
    await peer.send_encoded(
        "alice", dm, authority_id=t.authority_id, type_id=t.type_id, content=encoded.content,
        version_major=t.version_major, version_minor=t.version_minor, fallback=encoded.fallback,
    )  # fmt: skip
    got = await wait_for(answers, lambda got: len(got) >= 2, within=120)
    assert got[1]["content"] == "thanks, got 0x" + "ab" * 32
