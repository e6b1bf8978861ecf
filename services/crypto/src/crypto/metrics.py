"""`sb_intents_by_state{agent,state}`: how many of each agent's intents are in each state, counted in its
database every `EVERY_S` (one GROUP BY per agent, which the (state, id) index answers).
A failed count skips that agent for the round and keeps the last figures: metrics never stop the service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final

import sqlalchemy as sa
from xmtp_core import telemetry
from xmtp_core.store.intents import IntentState
from xmtp_core.store.schema import intents
from xmtp_core.untrusted import clean_error

from crypto.agents import Agent

log = logging.getLogger(__name__)

EVERY_S: Final = 30.0


async def count_intents(agent: Agent) -> dict[str, int]:
    """The agent's intents per state (every state named, 0 when none)."""
    async with agent.runtime.store.transaction() as s:
        rows = (await s.execute(sa.select(intents.c.state, sa.func.count()).group_by(intents.c.state))).all()
    found = {str(state): int(n) for state, n in rows}
    return {state.value: found.get(state.value, 0) for state in IntentState}


async def report_intents(agents: Mapping[str, Agent], every_s: float = EVERY_S) -> None:
    """Set the gauge for every agent, then again every `every_s`, until cancelled."""
    while True:
        for agent in agents.values():
            try:
                counts = await count_intents(agent)
            except Exception as exc:
                log.warning("intent counts of %s: %s", agent.name, clean_error(exc))
                continue
            for state, n in counts.items():
                telemetry.INTENTS_BY_STATE.labels(agent.name, state).set(n)
        await asyncio.sleep(every_s)
