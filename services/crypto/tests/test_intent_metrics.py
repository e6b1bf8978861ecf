"""`sb_intents_by_state`: crypto counts an agent's intents per state in its database (every state named, 0 when
none), and a failing count neither stops the loop nor clears the last figures."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from crypto.agents import Agent, agent_database_url, open_agent
from crypto.metrics import count_intents, report_intents
from crypto.sender import BusSender
from nats.aio.client import Client
from nats.js import JetStreamContext
from xmtp_core import telemetry
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.node import NodeClient
from xmtp_core.pg_url import plain_pg_url
from xmtp_core.store import EncryptionKey, KeyRing
from xmtp_core.store.schema import intents


@pytest.fixture
async def agent(node: NodeClient, nc: Client, js: JetStreamContext, database_url: str) -> AsyncIterator[Agent]:
    opened = await open_agent(
        "metrics", node, database_url, BusSender("metrics", nc, js), wallet=LocalWalletSigner.generate(),
        keys=KeyRing(EncryptionKey.generate()),
    )  # fmt: skip
    try:
        yield opened
    finally:
        await opened.runtime.store.close()
        conn = await asyncpg.connect(plain_pg_url(database_url))
        try:
            name = agent_database_url(database_url, "metrics").rsplit("/", 1)[1]
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def _add(agent: Agent, *states: str) -> None:
    async with agent.runtime.store.transaction() as s:
        for state in states:
            await s.execute(
                sa.insert(intents).values(
                    group_id=b"\x01" * 16, kind="send_message", payload=b"x", state=state, attempts=0,
                    created_ns=1, updated_ns=1, error="refused" if state == "Error" else None,
                )
            )  # fmt: skip


async def test_intents_are_counted_by_state(agent: Agent) -> None:
    before = await count_intents(agent)
    await _add(agent, "ToPublish", "ToPublish", "Published", "Error")
    after = await count_intents(agent)
    assert set(after) == {"ToPublish", "Published", "Committed", "Processed", "Error"}
    assert after["ToPublish"] == before["ToPublish"] + 2
    assert after["Published"] == before["Published"] + 1 and after["Error"] == before["Error"] + 1
    task = asyncio.create_task(report_intents({"metrics": agent}, every_s=0.05))
    try:
        for _ in range(100):
            if telemetry.INTENTS_BY_STATE.labels("metrics", "ToPublish")._value.get() == after["ToPublish"]:
                break
            await asyncio.sleep(0.02)
        assert telemetry.INTENTS_BY_STATE.labels("metrics", "ToPublish")._value.get() == after["ToPublish"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_failing_count_keeps_the_loop_and_the_last_figures() -> None:
    class Broken:
        @contextlib.asynccontextmanager
        async def transaction(self) -> AsyncIterator[Any]:
            raise OSError("postgres away")
            yield

    telemetry.INTENTS_BY_STATE.labels("broken", "Published").set(3)
    agent: Any = SimpleNamespace(name="broken", runtime=SimpleNamespace(store=Broken()))
    task = asyncio.create_task(report_intents({"broken": agent}, every_s=0.01))
    await asyncio.sleep(0.1)
    assert not task.done()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert telemetry.INTENTS_BY_STATE.labels("broken", "Published")._value.get() == 3
