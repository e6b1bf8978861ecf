"""Exactly-once replies and effects through the whole pipeline (real processes, NATS, Postgres, devnode) with a
libxmtp 1.9.1 peer:

- one message in two envelopes: our own `xmtp_core` member publishes the same PlaintextEnvelope (idempotency key
  and content) twice in a group with a libxmtp user and the agent; the node keeps both envelopes, libxmtp shows
  the message once and the agent answers it once;
- a `once` effect, the router SIGKILLed after the effect and before its reply: the redelivered message is
  answered once by the next router and the effect is not run again.

The agent is `tests/interop/apps/exactly_once.py`."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for
from xmtp_core.content import default_registry
from xmtp_core.engine import send_message_intent
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.node import NodeClient
from xmtp_core.runtime import Runtime
from xmtp_core.store import EncryptionKey, KeyRing, Store

from switchboard.devservices import DevServices

pytestmark = pytest.mark.interop

APP = "tests.interop.apps.exactly_once:agent"
FAST = {"SB_ACK_WAIT_S": "3", "SB_NAK_DELAY_S": "0.2"}


@pytest.fixture
async def carol(devnode_url: str, new_database: Callable[[], Awaitable[str]]) -> AsyncIterator[Runtime]:
    """Our own client, in a database of its own (devnode owns the test's)."""
    node = NodeClient.for_url(devnode_url)
    store = await Store.open(await new_database(), KeyRing(EncryptionKey.generate()))
    try:
        yield await Runtime.register(node, store, LocalWalletSigner.generate())
    finally:
        await store.close()
        await node.close()


def _texts(messages: list[dict[str, Any]], inbox_id: str) -> list[Any]:
    return [m["content"] for m in from_agent(messages, inbox_id)]


async def test_one_message_in_two_envelopes_is_answered_once(
    peer: LibxmtpPeer, carol: Runtime, devnode_url: str, database_url: str, services: DevServices
) -> None:
    async with Stack.start(devnode_url, database_url, services.nats_url, app=APP, agent="once", extra_env=FAST) as s:
        await peer.create("alice", devnode_url)
        group = (await peer.create_group("alice", [s.agent_inbox_id, carol.keys.inbox_id], "twice"))["id"]
        await carol.sync_welcomes()
        gid = bytes.fromhex(group)
        # A sender's retried publish: the same PlaintextEnvelope encrypted and published twice (two envelopes).
        content = default_registry().prepare("ping").payload
        first = await carol.run_intent(gid, send_message_intent(content, "1767225600000000000"))
        again = await carol.run_intent(gid, send_message_intent(content, "1767225600000000000"))
        assert first.published_id and again.published_id and first.published_id != again.published_id
        await carol.send(gid, "after")  # answered after anything the duplicate could cause (one partition, in order)

        async def answers() -> list[Any]:
            return _texts(await peer.messages("alice", group), s.agent_inbox_id)

        await wait_for(answers, lambda got: "echo: after" in got, within=60)
        assert await answers() == ["echo: ping", "echo: after"]
        from_carol = _texts(await peer.messages("alice", group), carol.keys.inbox_id)
        assert from_carol == ["ping", "after"]  # libxmtp shows the message once too
        await carol.sync_group(gid)
        # What carol's runtime stored (its send's pull may already have handled the answer: a faster agent).
        stored = [m for m in await carol.messages(gid) if m.sender_inbox_id == s.agent_inbox_id]
        seen_by_carol = [carol.registry.decode_bytes(m.content).value for m in stored]
        assert seen_by_carol.count("echo: ping") == 1


async def test_a_router_killed_after_an_effect_and_before_its_reply_charges_once_and_answers_once(
    peer: LibxmtpPeer, devnode_url: str, database_url: str, services: DevServices, tmp_path: Path
) -> None:
    effects = tmp_path / "effects"
    effects.touch()
    env = {**FAST, "SB_TEST_EFFECTS": str(effects), "SB_TEST_STALL_AFTER_EFFECT": "1"}
    async with Stack.start(devnode_url, database_url, services.nats_url, app=APP, agent="once", extra_env=env) as s:
        await peer.create("alice", devnode_url)
        dm = (await peer.create_dm("alice", s.agent_inbox_id))["id"]
        await peer.send_text("alice", dm, "/charge 10 USDC")
        await wait_for(lambda: asyncio.to_thread(_lines, effects), lambda got: got == ["10 USDC"], within=60, every=0.1)
        s.kill("router", 0, signal.SIGKILL)  # the effect is recorded, the reply never sent
        s.env.pop("SB_TEST_STALL_AFTER_EFFECT")
        s.spawn("router", 1, "--app", APP)
        await peer.send_text("alice", dm, "after")

        async def answers() -> list[Any]:
            return _texts(await peer.messages("alice", dm), s.agent_inbox_id)

        await wait_for(answers, lambda got: "echo: after" in got, within=60, every=0.5)
        assert await answers() == ["charged 10 USDC, receipt 1", "echo: after"]
        assert _lines(effects) == ["10 USDC"]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()
