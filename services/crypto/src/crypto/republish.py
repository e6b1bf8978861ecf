"""Open intents nobody is finishing: every `EVERY_S`, each conversation whose oldest open intent has not moved
for `STALE_S` is synced (pulled to the node's head, then its open intents published again).

A send's envelope can fail to reach SB_PUB, or its result never come back (a NATS leader election, the publisher
down for longer than the result timeout). The intent then stays Published, and before this sweep only the next
sync of that conversation (another message, or a restart's resume) finished it: a quiet conversation kept an
answer owed for ever. The pull before the republish makes it safe: an envelope that did reach the node is found
there and finishes its intent, so nothing goes out twice; a republish of the same build also carries the same
`Nats-Msg-Id`. Several replicas may sweep the same conversation: a sync is safe to race (dedup marks, the
conversation lock). A failure is logged and tried again next round: the sweep never stops the service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Final

from xmtp_core.runtime.outbound import OPEN_INTENTS
from xmtp_core.untrusted import clean_error

from crypto.agents import Agent

log = logging.getLogger(__name__)

EVERY_S: Final = 15.0
STALE_S: Final = 45.0  # longer than the sender's result timeout (30 s): a send still waiting is not stale
SCAN_LIMIT: Final = 1000  # open intents read per agent and round (oldest first)


async def stale_groups(agent: Agent, stale_s: float = STALE_S, now_ns: int | None = None) -> list[bytes]:
    """Conversations of `agent` with an open intent untouched for `stale_s`, oldest first."""
    cutoff = (time.time_ns() if now_ns is None else now_ns) - int(stale_s * 1e9)
    store = agent.runtime.store
    async with store.transaction() as s:
        open_intents = await store.intents.list_by_state(s, OPEN_INTENTS, limit=SCAN_LIMIT)
    return list(dict.fromkeys(i.group_id for i in open_intents if i.updated_ns < cutoff))


async def sweep(agent: Agent, stale_s: float = STALE_S) -> int:
    """Sync every stale conversation of `agent` once; how many were synced."""
    synced = 0
    for group_id in await stale_groups(agent, stale_s):
        try:
            await agent.runtime.sync_group(group_id)
            synced += 1
        except Exception as exc:  # the node or the bus still away: next round
            log.warning("republish of a stale intent of %s: %s", agent.name, clean_error(exc))
    return synced


async def republish_stale(agents: Mapping[str, Agent], every_s: float = EVERY_S, stale_s: float = STALE_S) -> None:
    """`sweep` every agent every `every_s`, until cancelled."""
    while True:
        await asyncio.sleep(every_s)
        for agent in agents.values():
            try:
                if n := await sweep(agent, stale_s):
                    log.info("agent %s: %d conversation(s) with a stale intent synced", agent.name, n)
            except Exception as exc:  # Postgres away: next round
                log.warning("stale intents of %s: %s", agent.name, clean_error(exc))
