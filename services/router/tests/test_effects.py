"""Exactly-once effects without a network (the store in memory and in a real Postgres): one message delivered in
two events (two envelopes) or redelivered runs a handler whose sends repeat their keys (so crypto sends them
once) and whose `once` effect runs once; two concurrent callers run an effect once; a claim left by a process
that died is taken over after its lease (at least once) or refused (`retry_interrupted=False`, at most once);
a failed effect runs again; a long effect keeps its lease; rows show no ids or results in clear."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from router import Agent, Attempt, ConversationContext, EffectInterrupted, MessageContext
from router.consent import MemoryConsent
from router.effects import EffectError, Effects, MemoryEffectRows, PostgresEffectRows
from router.worker import Worker
from xmtp_core.bus.runner import Meta
from xmtp_core.bus.schemas import CommandResult, ConversationInfo, JoinedEvent, MessageEvent
from xmtp_core.bus.settings import BusSettings
from xmtp_core.content import default_registry

from .conftest import RecordingTransport

KEY = b"\x05" * 32
META = Meta("sb.ev.t.c.message", "t", "c", "message", 0, 1, 1, None)
DM = ConversationInfo(conversation_id="cd" * 16, kind="dm")


class CryptoLikeTransport(RecordingTransport):
    """Answers a repeated idempotency key from its first result, as crypto does (JetStream's Nats-Msg-Id
    dedupe, then KV `sb_command_results`, then the runtime's stored message): `sent` is what reached the node."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: dict[str, Any] = {}

    async def command(self, command: Any) -> CommandResult:
        self.commands.append(command)
        self.sent.setdefault(command.idempotency_key, command)
        message_id = hashlib.sha256(command.idempotency_key.encode()).hexdigest()
        return CommandResult(ok=True, idempotency_key=command.idempotency_key, message_id=message_id)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "postgres"])
async def effects(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Effects]:
    if request.param == "memory":
        yield Effects(MemoryEffectRows(), KEY, "t")
        return
    rows = PostgresEffectRows(database_url, "t")
    yield Effects(rows, KEY, "t")
    await rows.close()


def _worker(agent: Agent, effects: Effects) -> tuple[Worker, CryptoLikeTransport]:
    agent.consent = MemoryConsent()
    agent.effects = effects
    worker = Worker(agent, None, None, BusSettings())  # type: ignore[arg-type]  # no network: transport replaced
    transport = CryptoLikeTransport()
    worker.transport = agent.transport = transport
    return worker, transport


def _text_event(event_id: str, message_id: str, text: str) -> MessageEvent:
    encoded = default_registry().encode(text)
    return MessageEvent(
        agent="t", event_id=event_id, message_id=message_id, conversation_id=DM.conversation_id,
        sender_inbox_id="inbox-b", sender_installation="ee" * 32, sent_ns=1, content_type=str(encoded.type),
        encoded_content=encoded.to_bytes(),
    )  # fmt: skip


def _charging_agent(charges: list[str]) -> Agent:
    agent = Agent("t")

    @agent.on("text")
    async def charge(ctx: MessageContext) -> None:
        async def effect() -> dict[str, Any]:
            charges.append(ctx.message.content)
            return {"receipt": len(charges)}

        receipt = await ctx.once("charge", effect)
        await ctx.send_text(f"charged, receipt {receipt['receipt']}")
        await ctx.send_reaction("👍")

    return agent


async def test_one_message_in_two_events_or_redelivered_sends_once_and_charges_once(effects: Effects) -> None:
    charges: list[str] = []
    worker, transport = _worker(_charging_agent(charges), effects)
    same = "ab" * 32
    # the same message in two envelopes (two event ids), then the first event redelivered after a crash
    for event_id in ("sb.t:7:0", "sb.t:9:0", "sb.t:7:0"):
        await worker.handle(_text_event(event_id, same, "10 USDC"), META)
    assert len(transport.commands) == 6  # the handler ran three times...
    assert charges == ["10 USDC"]  # ...its effect once
    assert [c.text for c in transport.sent.values() if hasattr(c, "text")] == ["charged, receipt 1"]
    assert len(transport.sent) == 2  # the reply and the reaction, once each

    await worker.handle(_text_event("sb.t:11:0", "cd" * 32, "5 USDC"), META)  # another message: its own keys
    assert charges == ["10 USDC", "5 USDC"] and len(transport.sent) == 4


async def test_a_joined_event_keeps_event_id_keys() -> None:
    agent, keys = Agent("t"), []

    @agent.on("conversation")
    async def hello(ctx: ConversationContext) -> None:
        keys.append(ctx.idempotency_key())

    worker, _ = _worker(agent, Effects(MemoryEffectRows(), KEY, "t"))
    for event_id in ("welcome:1:0", "welcome:1:0", "welcome:2:0"):
        await worker.handle(JoinedEvent(agent="t", event_id=event_id, conversation=DM), META)
    assert keys[0] == keys[1] and keys[0] != keys[2]


async def test_two_concurrent_callers_run_the_effect_once(effects: Effects) -> None:
    runs, started, release = [], asyncio.Event(), asyncio.Event()

    async def slow() -> str:
        runs.append(1)
        started.set()
        await release.wait()
        return "done"

    first = asyncio.create_task(effects.once("message:x", "charge", slow))
    await started.wait()
    second = asyncio.create_task(effects.once("message:x", "charge", slow))  # e.g. another replica, redelivered
    await asyncio.sleep(0.2)
    assert not second.done()  # it waits for the holder's outcome
    release.set()
    assert await asyncio.gather(first, second) == ["done", "done"] and runs == [1]
    assert await effects.once("message:x", "charge", slow) == "done" and runs == [1]
    assert await effects.once("message:x", "refund", slow) == "done" and len(runs) == 2  # another name


async def _crash_claim(effects: Effects, scope: str, name: str, lease_s: float) -> None:
    """What a process that claimed the effect and died (SIGKILL) leaves: a running claim, no result."""
    claimed = await effects.rows.claim(effects.row_key(scope, name), "dead-process", lease_s, take_over=True)
    assert claimed.__class__.__name__ == "Claimed"


async def test_a_crashed_claim_is_taken_over_after_its_lease_at_least_once(effects: Effects) -> None:
    attempts: list[Attempt] = []

    async def effect(attempt: Attempt) -> int:
        attempts.append(attempt)
        return attempt.number

    await _crash_claim(effects, "message:y", "charge", 0.3)
    assert await effects.once("message:y", "charge", effect, lease_s=5) == 2  # waited out the dead lease
    assert [a.number for a in attempts] == [2]
    assert attempts[0].key.startswith("e-") and attempts[0].key == _attempt_key(effects, "message:y", "charge")
    assert await effects.once("message:y", "charge", effect) == 2 and len(attempts) == 1


async def test_a_crashed_claim_of_an_at_most_once_effect_is_never_run_again(effects: Effects) -> None:
    runs: list[int] = []

    async def effect() -> None:
        runs.append(1)

    await _crash_claim(effects, "message:z", "notify", 0.3)
    with pytest.raises(EffectInterrupted) as raised:
        await effects.once("message:z", "notify", effect, retry_interrupted=False)
    assert raised.value.attempts == 1 and runs == []
    with pytest.raises(EffectInterrupted):
        await effects.once("message:z", "notify", effect, retry_interrupted=False)
    assert runs == []


async def test_a_memory_claim_lapses_by_its_clock() -> None:
    clock = Clock()
    effects = Effects(MemoryEffectRows(clock), KEY, "t")
    await _crash_claim(effects, "s", "n", 30)
    waiting = asyncio.create_task(effects.once("s", "n", _value(7)))
    await asyncio.sleep(0.2)
    assert not waiting.done()  # the dead claim's lease is live: a caller cannot tell it from a slow one
    clock.now += 31
    assert await waiting == 7


async def test_a_failed_effect_is_released_and_runs_again(effects: Effects) -> None:
    attempts: list[int] = []

    async def flaky(attempt: Attempt) -> str:
        attempts.append(attempt.number)
        if len(attempts) == 1:
            raise ConnectionError("payment API down")
        return "paid"

    with pytest.raises(ConnectionError):
        await effects.once("message:f", "charge", flaky, retry_interrupted=False)
    assert await effects.once("message:f", "charge", flaky, retry_interrupted=False) == "paid"
    assert attempts == [1, 2]


async def test_a_long_effect_renews_its_lease(effects: Effects) -> None:
    runs, started = [], asyncio.Event()

    async def long() -> str:
        runs.append(1)
        started.set()
        await asyncio.sleep(2.0)  # several leases long
        return "ok"

    first = asyncio.create_task(effects.once("message:l", "sync", long, lease_s=0.6))
    await started.wait()
    await asyncio.sleep(1.0)  # past the first lease: a take-over would run it again now
    assert await effects.once("message:l", "sync", long, lease_s=0.6) == "ok"
    assert await first == "ok" and runs == [1]


async def test_a_result_that_is_no_json_value_is_recorded_and_raised() -> None:
    effects, runs = Effects(MemoryEffectRows(), KEY, "t"), []

    async def effect() -> object:
        runs.append(1)
        return object()

    with pytest.raises(EffectError, match="JSON"):
        await effects.once("s", "n", effect)
    assert await effects.once("s", "n", effect) is None and runs == [1]  # it ran: never again


async def test_rows_show_no_ids_or_results_and_are_per_agent(database_url: str) -> None:
    rows = PostgresEffectRows(database_url, "t")
    other_rows = PostgresEffectRows(database_url, "u")
    mine, other = Effects(rows, KEY, "t"), Effects(other_rows, KEY, "u")
    scope = "message:" + "ab" * 32
    assert await mine.once(scope, "charge", _value({"card": "secret-4242"})) == {"card": "secret-4242"}
    assert await other.once(scope, "charge", _value("theirs")) == "theirs"  # another agent: another row
    conn = await asyncpg.connect(database_url)
    try:
        found = await conn.fetch("SELECT id, result FROM router_effects")
        assert len(found) == 2
        for row in found:
            raw = bytes(row["id"]) + bytes(row["result"])
            assert b"secret-4242" not in raw and b"ab" * 8 not in raw and bytes.fromhex("ab" * 8) not in raw
        # a result moved onto another row does not open
        await conn.execute("UPDATE router_effects SET result = (SELECT result FROM router_effects WHERE agent='u')")
    finally:
        await conn.close()
    with pytest.raises(EffectError):
        await mine.once(scope, "charge", _value("again"))
    await rows.close()
    await other_rows.close()


async def test_agent_once_and_ctx_once_in_memory_without_a_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    agent, runs = Agent("t"), []

    async def effect() -> int:
        runs.append(1)
        return len(runs)

    assert await agent.once("invoice-1", effect) == 1
    assert await agent.once("invoice-1", effect) == 1 and runs == [1]


def _value(value: Any) -> Any:
    async def effect() -> Any:
        return value

    return effect


def _attempt_key(effects: Effects, scope: str, name: str) -> str:
    return "e-" + effects.row_key(scope, name).hex()[:40]
