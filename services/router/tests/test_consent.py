"""Consent: set and read per conversation or inbox, a DM falling back to its peer's record; messages of a denied
conversation (or a DM with a denied inbox) are not dispatched unless `include_denied`; a store that fails is
read as unknown (the agent keeps answering); Postgres keeps states across store instances (replicas,
restarts); bad states and targets refused."""

from __future__ import annotations

from typing import Any

import pytest
from router import Agent, MessageContext
from router.consent import MemoryConsent, PostgresConsent
from router.worker import Worker
from xmtp_core.bus.runner import Meta
from xmtp_core.bus.schemas import ConversationInfo, MessageEvent, OpResponse
from xmtp_core.bus.settings import BusSettings
from xmtp_core.content import default_registry

from .conftest import MakeCtx, RecordingTransport

META = Meta("sb.ev.t.c.message", "t", "c", "message", 0, 1, 1, None)
DM = ConversationInfo(conversation_id="cd" * 16, kind="dm", dm_peer_inbox_id="inbox-b")


def _setup(agent: Agent) -> tuple[Worker, list[str]]:
    seen: list[str] = []

    @agent.on("text")
    async def text(ctx: MessageContext) -> None:
        seen.append(ctx.message.content)

    worker = Worker(agent, None, None, BusSettings())  # type: ignore[arg-type]
    transport = RecordingTransport()
    transport.answers["conversation"] = OpResponse(op="conversation", ok=True, conversation=DM)
    worker.transport = agent.transport = transport  # type: ignore[assignment]
    return worker, seen


def _text(n: int, text: str) -> MessageEvent:
    return MessageEvent(
        agent="t", event_id=f"e-{n}", message_id=f"{n:064x}", conversation_id=DM.conversation_id,
        sender_inbox_id="inbox-b", sender_installation="ee" * 32, sent_ns=n, content_type="xmtp.org/text:1.0",
        encoded_content=default_registry().encode(text).to_bytes(),
    )  # fmt: skip


async def test_denied_conversations_and_inboxes_are_not_dispatched() -> None:
    agent = Agent("t")
    agent.consent = MemoryConsent()
    worker, seen = _setup(agent)
    await worker.handle(_text(1, "one"), META)
    await agent.set_consent("denied", inbox_id="inbox-b")  # the DM's peer: the DM falls back to it
    await worker.handle(_text(2, "two"), META)
    await agent.set_consent("allowed", conversation_id=DM.conversation_id)  # its own record wins
    await worker.handle(_text(3, "three"), META)
    assert seen == ["one", "three"]
    assert await agent.get_consent(inbox_id="inbox-b") == "denied"
    assert await agent.get_consent(inbox_id="nobody") == "unknown"


async def test_include_denied_and_context_getters(make_ctx: MakeCtx) -> None:
    agent = Agent("t", include_denied=True)
    agent.consent = MemoryConsent()
    worker, seen = _setup(agent)
    await agent.set_consent("denied", conversation_id=DM.conversation_id)
    await worker.handle(_text(1, "kept"), META)
    assert seen == ["kept"]
    ctx = make_ctx(agent, "x", info=DM)
    assert await ctx.is_denied() and not await ctx.is_allowed()
    await ctx.set_consent("unknown")
    assert await ctx.is_unknown()
    with pytest.raises(ValueError):
        await ctx.set_consent("maybe")
    with pytest.raises(ValueError):
        await agent.set_consent("allowed")


async def test_a_failing_store_is_read_as_unknown() -> None:
    class Broken(MemoryConsent):
        async def get(self, kind: str, entity: str) -> Any:
            raise OSError("database down")

    agent = Agent("t")
    agent.consent = Broken()
    worker, seen = _setup(agent)
    await worker.handle(_text(1, "still here"), META)
    assert seen == ["still here"]


async def test_postgres_consent_is_shared_by_store_instances(database_url: str) -> None:
    first, second = PostgresConsent(database_url, "t"), PostgresConsent(database_url, "t")
    other_agent = PostgresConsent(database_url, "u")
    try:
        await first.set("inbox", "inbox-b", "denied")
        assert await second.get("inbox", "inbox-b") == "denied"
        await second.set("inbox", "inbox-b", "allowed")
        assert await first.get("inbox", "inbox-b") == "allowed"
        assert await other_agent.get("inbox", "inbox-b") is None  # per agent
    finally:
        for store in (first, second, other_agent):
            await store.close()
