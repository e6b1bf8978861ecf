"""The echo agent through the whole pipeline (ingest, crypto, router, publisher as separate processes, real NATS
JetStream, Postgres and devnode) with libxmtp as the user: every answer of the echo contract in a DM and in a
group (also after a rename), `/dm-me`, `/group-with-me`, for libxmtp 1.9.1 (node-sdk 5.5.0) and 1.10.0
(xmtp-bindings 0.1.8), and 50 texts sent back to back answered in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from peer import LIBXMTP_VERSIONS, LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for

from switchboard.devservices import DevServices

pytestmark = pytest.mark.interop


@pytest.fixture
async def stack(devnode_url: str, database_url: str, services: DevServices) -> AsyncIterator[Stack]:
    async with Stack.start(devnode_url, database_url, services.nats_url) as running:
        yield running


async def _answers(peer: LibxmtpPeer, user: str, conv: str, agent: str, count: int) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]]:
        return from_agent(await peer.messages(user, conv), agent)

    result: list[dict[str, Any]] = await wait_for(probe, lambda got: len(got) >= count, within=90)
    return result


async def _contract(peer: LibxmtpPeer, user: str, conv: str, stack: Stack) -> None:
    """ping, /react, /reply, /markdown and an echo in ``conv``, answered in that order."""
    agent = stack.agent_inbox_id
    await peer.send_text(user, conv, "ping")
    assert [m["content"] for m in await _answers(peer, user, conv, agent, 1)] == ["pong"]
    react_id = await peer.send_text(user, conv, "/react")

    async def reacted() -> list[dict[str, Any]]:
        msgs = await peer.messages(user, conv)
        return [r for m in msgs if m["id"] == react_id for r in m["reactions"] if r["senderInboxId"] == agent]

    reactions = await wait_for(reacted, bool, within=60)
    assert reactions[0]["contentType"].startswith("xmtp.org/reaction:")
    reply_id = await peer.send_text(user, conv, "/reply")
    replies = [m for m in await _answers(peer, user, conv, agent, 2) if m["contentType"] == "xmtp.org/reply:1.0"]
    assert len(replies) == 1 and replies[0]["content"]["referenceId"] == reply_id
    assert replies[0]["content"]["content"] == "this is a reply"
    await peer.send_text(user, conv, "/markdown")
    answers = await _answers(peer, user, conv, agent, 3)
    assert answers[-1]["contentType"] == "xmtp.org/markdown:1.0"
    await peer.send_text(user, conv, "hello there")
    answers = await _answers(peer, user, conv, agent, 4)
    assert answers[-1]["content"] == "echo: hello there"


both_peers = pytest.mark.parametrize("peer", LIBXMTP_VERSIONS, indirect=True)


@both_peers
async def test_echo_contract_in_a_dm(peer: LibxmtpPeer, devnode_url: str, stack: Stack) -> None:
    await peer.create("alice", devnode_url)
    dm = await peer.create_dm("alice", stack.agent_inbox_id)
    await _contract(peer, "alice", dm["id"], stack)

    await peer.send_text("alice", dm["id"], "/group-with-me")

    async def agent_group() -> list[dict[str, Any]]:
        return [c for c in await peer.list_conversations("alice") if c["name"] == "agent group"]

    (group,) = await wait_for(agent_group, bool, within=90)
    welcome = await _answers(peer, "alice", group["id"], stack.agent_inbox_id, 1)
    assert [m["content"] for m in welcome] == ["welcome"]


@both_peers
async def test_echo_contract_in_a_group_also_after_a_rename(peer: LibxmtpPeer, devnode_url: str, stack: Stack) -> None:
    await peer.create("alice", devnode_url)
    group = await peer.create_group("alice", [stack.agent_inbox_id], "echo room")
    await _contract(peer, "alice", group["id"], stack)
    await peer.update_name("alice", group["id"], "renamed room")
    await peer.send_text("alice", group["id"], "ping")
    answers = await _answers(peer, "alice", group["id"], stack.agent_inbox_id, 5)
    assert answers[-1]["content"] == "pong"

    await peer.send_text("alice", group["id"], "/dm-me")

    async def dm_from_agent() -> list[dict[str, Any]]:
        convs = await peer.list_conversations("alice")
        return [c for c in convs if c["type"] == "dm" and c["peerInboxId"] == stack.agent_inbox_id]

    (dm,) = await wait_for(dm_from_agent, bool, within=90)
    hello = await _answers(peer, "alice", dm["id"], stack.agent_inbox_id, 1)
    assert [m["content"] for m in hello] == ["hello from dm"]


async def test_fifty_texts_back_to_back_are_all_answered_in_order(
    peer: LibxmtpPeer, devnode_url: str, stack: Stack
) -> None:
    await peer.create("alice", devnode_url)
    dm = await peer.create_dm("alice", stack.agent_inbox_id)
    await peer.send_text("alice", dm["id"], "ping")
    await _answers(peer, "alice", dm["id"], stack.agent_inbox_id, 1)
    started = time.monotonic()
    for i in range(50):
        await peer.send_text("alice", dm["id"], f"burst {i}")
    answers = await _answers(peer, "alice", dm["id"], stack.agent_inbox_id, 51)
    elapsed = time.monotonic() - started
    assert [m["content"] for m in answers[1:]] == [f"echo: burst {i}" for i in range(50)]
    print(f"50 back-to-back echoes answered in {elapsed:.1f}s ({50 / elapsed:.1f} msg/s)")
    await asyncio.sleep(0)


async def _command(nats_url: str, body: dict[str, Any], msg_id: str) -> dict[str, Any]:
    """What another team's service does, with nothing but nats-py: publish the command, read the result."""
    import json

    import nats

    nc = await nats.connect(nats_url)
    try:
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, max_msgs=1)
        js = nc.jetstream()
        headers = {"Nats-Msg-Id": msg_id, "Sb-Reply-To": inbox}
        await js.publish(f"sb.out.{body.get('agent', 'echo')}", json.dumps(body).encode(), headers=headers)
        msg = await sub.next_msg(timeout=60)
        result: dict[str, Any] = json.loads(msg.data)
        return result
    finally:
        await nc.close()


async def test_an_outbound_command_from_plain_nats_reaches_libxmtp_once(
    peer: LibxmtpPeer, devnode_url: str, stack: Stack, services: DevServices
) -> None:
    alice = await peer.create("alice", devnode_url)
    command = {"v": 1, "type": "text", "agent": "echo", "idempotency_key": "ops-7", "to_inbox_id": alice.inbox_id}
    first = await _command(services.nats_url, {**command, "text": "from another team"}, "ops-7-a")
    assert first["ok"] and first["conversation_id"]
    # The same idempotency key again (a retry under another msg id): the result repeats, nothing new is sent.
    again = await _command(services.nats_url, {**command, "text": "from another team"}, "ops-7-b")
    assert again["ok"] and again["message_id"] == first["message_id"]
    answers = await _answers(peer, "alice", first["conversation_id"], stack.agent_inbox_id, 1)
    await asyncio.sleep(2)
    answers = from_agent(await peer.messages("alice", first["conversation_id"]), stack.agent_inbox_id)
    assert [m["content"] for m in answers] == ["from another team"]

    bad = await _command(services.nats_url, {"v": 1, "type": "text", "agent": "echo", "text": "no key"}, "bad-1")
    assert not bad["ok"] and bad["error"] == "invalid_command"


async def test_two_agents_in_one_deployment_keep_their_own_keys_and_handlers(
    peer: LibxmtpPeer, devnode_url: str, database_url: str, services: DevServices
) -> None:
    """`second` and `third` run in one router process (`--app` twice), `echo` in its own."""
    more = {"second": "tests.interop.apps.second:agent", "third": "tests.interop.apps.second:third"}
    async with Stack.start(
        devnode_url, database_url, services.nats_url, more_agents=more, more_agents_routers=1
    ) as stack:
        inboxes = {name: stack.inbox_ids[name] for name in ("echo", "second", "third")}
        assert len(set(inboxes.values())) == 3
        await peer.create("alice", devnode_url)
        dms = {name: (await peer.create_dm("alice", inbox))["id"] for name, inbox in inboxes.items()}
        for dm in dms.values():
            await peer.send_text("alice", dm, "hi")
        for name, dm in dms.items():
            answers = [m["content"] for m in await _answers(peer, "alice", dm, inboxes[name], 1)]
            assert answers == [f"{name}: hi"], (name, answers)
