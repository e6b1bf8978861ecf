"""Ingest counts what it publishes and what it dead-letters (`sb_messages_out_total`, `sb_dead_letters_total`),
and each envelope it publishes starts a trace carried in the message's headers."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ingest.service import AgentIngest
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from xmtp_core import telemetry
from xmtp_core.bus import schemas, subjects
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import DLQ, ensure_buckets
from xmtp_core.node import GroupMessage


async def test_a_dead_lettered_envelope_is_counted_and_carries_a_trace(
    js: JetStreamContext, settings: BusSettings
) -> None:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())  # what telemetry.setup installs in the service
    buckets = await ensure_buckets(js, settings)
    worker = AgentIngest("alice", os.urandom(32), None, js, buckets[subjects.KV_INGEST_CURSORS], settings)  # type: ignore[arg-type]
    group_id = os.urandom(16)
    big = GroupMessage(5, 1, group_id, b"\x00" * (schemas.MAX_ENVELOPE_BYTES + 1), b"", True, False)
    dead = telemetry.DEAD_LETTERS.labels("ingest")
    before = dead._value.get()
    window: asyncio.Queue[Any] = asyncio.Queue()
    await worker._send(window, subjects.group_conv(group_id), big)
    await (await window.get()).ack
    assert dead._value.get() == before + 1
    msg = await js.get_last_msg(DLQ.name, "sb.dlq.ingest")
    assert msg.headers and "traceparent" in msg.headers  # the context reaches the bus (ids only)
