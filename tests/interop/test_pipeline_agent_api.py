"""The agent API through the whole pipeline with libxmtp (node-sdk 5.5.0, xmtp-bindings 0.1.8) as the user:
every content event fires with its payload when libxmtp sends that content type (the inspector agent answers
each with the event it saw; a reply with the message it answers), a group rename is a `group-update`, a
leave request in a group is `leave-request`, and the command bot answers `/help` with a markdown reply; each
for libxmtp 1.9.1 and 1.10.0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from peer import LIBXMTP_VERSIONS, LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for
from xmtp_core.content import (
    Action,
    Actions,
    Attachment,
    Intent,
    Markdown,
    ReadReceipt,
    RemoteAttachment,
    TransactionReference,
    WalletCall,
    WalletSendCalls,
    default_registry,
)
from xmtp_core.content.codecs.attachment import MultiRemoteAttachment
from xmtp_core.content.codecs.group import LeaveRequest
from xmtp_core.content.types import ContentTypeId, EncodedContent

from switchboard.devservices import DevServices

pytestmark = pytest.mark.interop

REMOTE = RemoteAttachment(
    "https://example.com/b", "ab" * 32, b"\x01" * 32, b"\x02" * 32, b"\x03" * 12, content_length=10, filename="b.bin"
)
ENCODED_SAMPLES: list[tuple[Any, str]] = [
    (Markdown("**bold**"), "markdown: **bold**"),
    (ReadReceipt(), "read-receipt: read"),
    (Attachment("text/plain", b"attached", "a.txt"), "inline-attachment: a.txt"),
    (REMOTE, "attachment: b.bin"),
    (MultiRemoteAttachment((REMOTE, REMOTE)), "multi-attachment: 2"),
    (TransactionReference("0x" + "cd" * 32, 8453, "eip155"), "transaction-reference: 0x" + "cd" * 32),
    (WalletSendCalls("1.0", "0x2105", "0x" + "11" * 20, (WalletCall(to="0x" + "22" * 20, value="0x1"),)),
     "wallet-send-calls: 0x2105"),
    (Actions("act-1", "Pick", (Action("yes", "Yes"),), expires_at=datetime(2030, 1, 1, tzinfo=UTC)),
     "actions: act-1"),
    (Intent("act-1", "yes"), "intent: yes"),
    (EncodedContent(ContentTypeId("example.com", "custom", 1, 0), b"raw", fallback="a custom thing"),
     "unknown_message: example.com/custom:1.0"),
]  # fmt: skip


@pytest.fixture
async def stack(devnode_url: str, database_url: str, services: DevServices) -> AsyncIterator[Stack]:
    more = {"commands": "examples.command_bot:agent"}
    async with Stack.start(
        devnode_url, database_url, services.nats_url, app="examples.inspector:agent", agent="inspector",
        more_agents=more,
    ) as running:  # fmt: skip
        yield running


async def _texts(peer: LibxmtpPeer, conv: str, agent: str, count: int) -> list[str]:
    async def probe() -> list[str]:
        return [m["content"] for m in from_agent(await peer.messages("alice", conv), agent)]

    got: list[str] = await wait_for(probe, lambda texts: len(texts) >= count, within=120)
    return got


async def _send_encoded(peer: LibxmtpPeer, conv: str, value: Any) -> None:
    encoded = value if isinstance(value, EncodedContent) else default_registry().encode(value)
    t = encoded.type
    await peer.send_encoded(
        "alice", conv, authority_id=t.authority_id, type_id=t.type_id, content=encoded.content,
        version_major=t.version_major, version_minor=t.version_minor, parameters=dict(encoded.parameters),
        fallback=encoded.fallback,
    )  # fmt: skip


@pytest.mark.parametrize("peer", LIBXMTP_VERSIONS, indirect=True)
async def test_every_content_event_fires_with_its_payload(peer: LibxmtpPeer, devnode_url: str, stack: Stack) -> None:
    await peer.create("alice", devnode_url)
    agent = stack.agent_inbox_id
    dm = (await peer.create_dm("alice", agent))["id"]
    first = await peer.send_text("alice", dm, "hello")
    assert await _texts(peer, dm, agent, 1) == ["text: hello"]
    await peer.react("alice", dm, first, "👍", reference_inbox_id=agent)
    await peer.reply("alice", dm, first, "a reply", reference_inbox_id=agent)
    for value, _ in ENCODED_SAMPLES:
        await _send_encoded(peer, dm, value)
    expected = ["text: hello", "reaction: 👍", "reply: a reply (to: hello)", *(answer for _, answer in ENCODED_SAMPLES)]
    assert await _texts(peer, dm, agent, len(expected)) == expected  # one conversation: in order

    group = await peer.create_group("alice", [agent], group_name="before")
    await peer.update_name("alice", group["id"], "after")
    assert await _texts(peer, group["id"], agent, 1) == ["group-update: group_name"]
    await _send_encoded(peer, group["id"], LeaveRequest())
    assert (await _texts(peer, group["id"], agent, 2))[1] == "leave-request: leave"


@pytest.mark.parametrize("peer", LIBXMTP_VERSIONS, indirect=True)
async def test_the_command_bot_answers_help_and_commands(peer: LibxmtpPeer, devnode_url: str, stack: Stack) -> None:
    await peer.create("alice", devnode_url)
    bot = stack.inbox_ids["commands"]
    dm = (await peer.create_dm("alice", bot))["id"]
    asked = await peer.send_text("alice", dm, "/help")

    async def answers() -> list[dict[str, Any]]:
        return from_agent(await peer.messages("alice", dm), bot)

    (help_reply,) = await wait_for(answers, lambda got: len(got) >= 1, within=120)
    assert help_reply["contentType"] == "xmtp.org/reply:1.0" and help_reply["content"]["referenceId"] == asked
    listing = str(help_reply["content"]["content"])
    assert "1. `/echo`" in listing and "`/roll`" in listing and "`/help`: this list" in listing
    await peer.send_text("alice", dm, "/echo hi there")
    await peer.send_text("alice", dm, "what?")
    got = await wait_for(answers, lambda got: len(got) >= 3, within=120)
    assert [m["content"] for m in got[1:]] == ["hi there", "try /help"]
