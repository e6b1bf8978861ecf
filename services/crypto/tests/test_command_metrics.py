"""Crypto's command consumer counts what it dead-letters (`sb_dead_letters_total{hop="crypto"}`), like the
partitioned consumers do, and opens its span in the sender's trace (no network: a fake message and JetStream)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from crypto.commands import Commands
from crypto.ops import resolve
from opentelemetry import trace
from xmtp_core import telemetry


class FakeJs:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, payload: bytes, **kwargs: Any) -> None:
        self.published.append((subject, payload))


class FakeMsg:
    def __init__(self, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.data = data
        self.headers = headers or {}
        self.subject = "sb.out.echo"
        self.metadata = SimpleNamespace(sequence=SimpleNamespace(stream=7), num_delivered=1)
        self.termed = False

    async def term(self) -> None:
        self.termed = True

    async def in_progress(self) -> None:
        pass

    async def nak(self, delay: float = 0) -> None:
        pass


async def test_a_dead_lettered_command_is_counted() -> None:
    js = FakeJs()
    commands = Commands(SimpleNamespace(), js, {}, resolve)  # type: ignore[arg-type]
    counter = telemetry.DEAD_LETTERS.labels("crypto")
    before = counter._value.get()
    msg = FakeMsg(b"not json")
    await commands.handle(msg)  # type: ignore[arg-type]
    assert msg.termed and js.published[0][0] == "sb.dlq.crypto"
    assert counter._value.get() == before + 1


async def test_the_command_span_continues_the_senders_trace() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())
    headers: dict[str, str] = {}
    with telemetry.producer_span("SB_OUT", headers) as sent:
        pass
    seen: list[int] = []
    commands = Commands(SimpleNamespace(), FakeJs(), {}, resolve)  # type: ignore[arg-type]

    async def handle(msg: Any) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    commands.handle = handle  # type: ignore[method-assign]
    import asyncio

    await commands._guarded(FakeMsg(b"{}", headers), asyncio.Semaphore(0))  # type: ignore[arg-type]
    assert seen == [sent.get_span_context().trace_id]
