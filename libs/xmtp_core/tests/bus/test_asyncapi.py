"""The AsyncAPI document (`switchboard asyncapi`) names every hop's subject and every schema; FastStream's
in-memory broker validates payloads against the same models."""

from __future__ import annotations

import json

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from typer.testing import CliRunner
from xmtp_core.bus import schemas
from xmtp_core.bus.asyncapi import document
from xmtp_core.bus.streams import STREAMS

from switchboard.cli import app


def test_every_subject_and_schema_is_in_the_document() -> None:
    result = CliRunner().invoke(app, ["asyncapi"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["asyncapi"] == "3.0.0"
    channels = set(doc["channels"])
    for spec in STREAMS:
        assert any(c.startswith(f"sb.{spec.hop}.") for c in channels), spec.name
    for kind in ("message", "joined", "updated", "rejected", "sent"):
        assert f"sb.ev.{{agent}}.{{conv}}.{kind}" in channels
    assert {"sb.ops.{agent}", "sb.ops.{agent} reply", "sb.out.{agent} result"} <= channels
    components = set(doc["components"]["schemas"])
    assert sorted({m.__name__ for m in schemas.models()} - components) == []
    assert "v" in json.dumps(doc["components"]["schemas"]["TextCommand"]["properties"])
    assert document("yaml").startswith("info:") or "asyncapi: 3.0.0" in document("yaml")


async def test_faststream_validates_bus_payloads_in_memory() -> None:
    broker = NatsBroker()
    seen: list[schemas.TextCommand] = []

    @broker.subscriber("sb.out.{agent}")
    async def handle(command: schemas.OutboundCommand) -> None:
        assert isinstance(command, schemas.TextCommand)
        seen.append(command)

    good = {"agent": "alice", "idempotency_key": "k-1", "conversation_id": "ab", "type": "text", "text": "hi"}
    async with TestNatsBroker(broker) as br:
        await br.publish(good, "sb.out.alice")
        assert [c.text for c in seen] == ["hi"]
        with pytest.raises(Exception, match="validation error"):
            await br.publish({**good, "text": "x" * (schemas.MAX_TEXT + 1)}, "sb.out.alice")
    assert len(seen) == 1
