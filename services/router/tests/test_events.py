"""Every event of the Agent SDK through the worker (no network): each of the 14 standard content types and a
custom one arrives as its content event with the decoded value, then `message`; undecodable content still
arrives (content None, `has_content` False); a join fires `dm` or `group` then `conversation`; `start` and
`stop` around the worker's run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from router import Agent, ConversationContext, MessageContext
from router import filters as F
from router.worker import Worker
from xmtp_core.bus.runner import Meta
from xmtp_core.bus.schemas import ConversationInfo, JoinedEvent, MessageEvent
from xmtp_core.bus.settings import BusSettings
from xmtp_core.content import (
    Action,
    Actions,
    Attachment,
    Intent,
    Markdown,
    Reaction,
    ReadReceipt,
    RemoteAttachment,
    Reply,
    TransactionReference,
    WalletCall,
    WalletSendCalls,
    default_registry,
)
from xmtp_core.content.codecs.attachment import MultiRemoteAttachment
from xmtp_core.content.codecs.group import GroupUpdated, LeaveRequest
from xmtp_core.content.codecs.text import TextCodec
from xmtp_core.content.types import ContentTypeId, EncodedContent

from .conftest import RecordingTransport

REF = "cd" * 32
REMOTE = RemoteAttachment("https://example.com/b", "ab" * 32, b"\x01" * 32, b"\x02" * 32, b"\x03" * 12, filename="b")
SAMPLES: list[tuple[str, Any]] = [
    ("text", "plain text"),
    ("markdown", Markdown("**bold**")),
    ("reaction", Reaction(REF, "👍", reference_inbox_id="inbox-b")),
    ("reply", Reply(REF, TextCodec().encode("a reply"), "inbox-b")),
    ("read-receipt", ReadReceipt()),
    ("inline-attachment", Attachment("text/plain", b"bytes", "a.txt")),
    ("attachment", REMOTE),
    ("multi-attachment", MultiRemoteAttachment((REMOTE, REMOTE))),
    ("transaction-reference", TransactionReference("0x" + "cd" * 32, 8453, "eip155")),
    ("wallet-send-calls", WalletSendCalls("1.0", "0x2105", "0x" + "11" * 20, (WalletCall(to="0x" + "22" * 20),))),
    ("actions", Actions("a-1", "Pick", (Action("y", "Yes"),), expires_at=datetime(2030, 1, 1, tzinfo=UTC))),
    ("intent", Intent("a-1", "y")),
    ("group-update", GroupUpdated("inbox-b", added_inboxes=("inbox-c",))),
    ("leave-request", LeaveRequest()),
]
REGISTRY = default_registry()
META = Meta("sb.ev.t.c.message", "t", "c", "message", 0, 1, 1, None)


def _worker(agent: Agent) -> Worker:
    from router.consent import MemoryConsent

    if agent._consent is None:
        agent.consent = MemoryConsent()  # never the environment's database
    worker = Worker(agent, None, None, BusSettings())  # type: ignore[arg-type]  # no network: transport replaced
    worker.transport = agent.transport = RecordingTransport()  # type: ignore[assignment]
    return worker


def _event(n: int, encoded: bytes, content_type: str) -> MessageEvent:
    return MessageEvent(
        agent="t", event_id=f"ev-{n}", message_id=f"{n:064x}", conversation_id="cd" * 16, sender_inbox_id="inbox-b",
        sender_installation="ee" * 32, sent_ns=n, content_type=content_type, encoded_content=encoded,
    )  # fmt: skip


async def test_every_content_event_fires_with_its_value_then_message() -> None:
    agent, seen = Agent("t"), []
    for event, _ in [*SAMPLES, ("unknown_message", None)]:

        @agent.on(event)
        async def specific(ctx: MessageContext, _event: str = event) -> None:
            seen.append((_event, ctx.message.content))

    @agent.on("message")
    async def every(message: Any) -> None:
        seen.append(("message", message.content))

    worker = _worker(agent)
    for n, (_, value) in enumerate(SAMPLES):
        encoded = REGISTRY.encode(value)
        await worker.handle(_event(n, encoded.to_bytes(), str(encoded.type)), META)
    custom = EncodedContent(ContentTypeId("example.com", "custom", 1, 0), b"raw", fallback="custom thing")
    await worker.handle(_event(99, custom.to_bytes(), "example.com/custom:1.0"), META)
    expected = [pair for event, value in SAMPLES for pair in ((event, value), ("message", value))]
    assert seen[: len(expected)] == expected
    (unknown, _), (last, _) = seen[len(expected) :]
    assert unknown == "unknown_message" and last == "message"
    assert seen[-1][1].encoded == custom  # UnknownContent keeps the raw content and its fallback


async def test_a_custom_codec_registered_by_the_agent_decodes_for_handlers() -> None:
    from xmtp_core.content.codec import ContentCodec

    class Upper(ContentCodec[bytes]):
        content_type = ContentTypeId("example.com", "upper", 1, 0)
        value_type = bytes

        def encode(self, value: bytes) -> EncodedContent:
            return self._encoded(value, value.upper())

        def decode(self, encoded: EncodedContent) -> bytes:
            return encoded.content.lower()

    agent, seen = Agent("t"), []
    agent.register_codec(Upper())

    @agent.on("unknown_message", F.uses_codec(Upper))
    async def custom(ctx: MessageContext) -> None:
        seen.append((ctx.message.content, ctx.uses_codec("example.com/upper")))

    raw = EncodedContent(Upper.content_type, b"HELLO", fallback=None).to_bytes()
    await _worker(agent).handle(_event(1, raw, "example.com/upper:1.0"), META)
    assert seen == [(b"hello", True)]


async def test_undecodable_content_still_arrives_without_content() -> None:
    agent, seen = Agent("t"), []

    @agent.on("text", F.has_content)
    async def decoded(ctx: MessageContext) -> None:
        seen.append("decoded")

    @agent.on("text")
    async def raw(ctx: MessageContext) -> None:
        seen.append(ctx.message.content)

    bad = EncodedContent(ContentTypeId("xmtp.org", "text", 1, 0), b"\xff\xfe", {"encoding": "UTF-8"}).to_bytes()
    await _worker(agent).handle(_event(1, bad, "xmtp.org/text:1.0"), META)
    assert seen == [None]


@pytest.mark.parametrize("kind", ["dm", "group"])
async def test_a_join_fires_dm_or_group_then_conversation(kind: str) -> None:
    agent, seen = Agent("t"), []

    for event in ("dm", "group", "conversation"):

        @agent.on(event)
        async def joined(ctx: ConversationContext, _event: str = event) -> None:
            seen.append((_event, ctx.conversation.id, ctx.is_dm()))

    info = ConversationInfo(conversation_id="ab" * 16, kind=kind)  # type: ignore[arg-type]
    await _worker(agent).handle(JoinedEvent(agent="t", event_id="j-1", conversation=info), META)
    assert seen == [(kind, "ab" * 16, kind == "dm"), ("conversation", "ab" * 16, kind == "dm")]


async def test_start_and_stop_fire_around_the_run() -> None:
    agent, seen = Agent("t"), []

    @agent.on("start")
    async def started(a: Agent) -> None:
        seen.append(("start", a is agent))

    @agent.on("stop")
    async def stopped() -> None:
        seen.append(("stop", True))

    worker = _worker(agent)

    async def forever() -> None:
        await asyncio.Event().wait()

    worker.consumer.run = forever  # type: ignore[method-assign]
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [("start", True), ("stop", True)]


async def test_a_group_update_is_the_group_update_event_with_its_changes() -> None:
    from xmtp_core.bus.schemas import GroupChange, MetadataChange, UpdatedEvent

    agent, seen = Agent("t"), []
    agent.inbox_id = "inbox-me"

    @agent.on("group-update")
    async def updated(ctx: MessageContext) -> None:
        value = ctx.message.content
        seen.append((ctx.message.sender_inbox_id, value.added_inboxes, value.metadata_field_changes[0].new_value))

    info = ConversationInfo(conversation_id="ab" * 16, kind="group", name="new")
    change = GroupChange(
        initiated_by_inbox_id="inbox-b", added_inboxes=["inbox-c"],
        metadata_field_changes=[MetadataChange(field_name="group_name", old_value="old", new_value="new")],
    )  # fmt: skip
    worker = _worker(agent)
    await worker.handle(UpdatedEvent(agent="t", event_id="u-1", conversation=info, update=change), META)
    mine = change.model_copy(update={"initiated_by_inbox_id": "inbox-me"})
    await worker.handle(UpdatedEvent(agent="t", event_id="u-2", conversation=info, update=mine), META)
    assert seen == [("inbox-b", ("inbox-c",), "new")]  # the agent's own update is not dispatched
