"""Each agent's last-resort key package on the node: rotated after a Welcome used it, and before it expires.

A join rotates at once (`rotate_after_join`); when the node refuses or is away (a 429 under its rate limit, a
restart), the rotation is owed, not lost: the envelope is done either way (a retry of the Welcome would find the
conversation joined and rotate nothing), and `keep_key_packages` tries again every `EVERY_S`. The same loop
rotates a key package nearing its expiry, which a long-running crypto would otherwise let lapse (no one could
add the agent to a conversation any more). A failure is logged and tried again next round."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Final

from xmtp_core.node import NodeError
from xmtp_core.untrusted import clean_error

from crypto.agents import Agent

log = logging.getLogger(__name__)

EVERY_S: Final = 60.0


async def rotate_after_join(agent: Agent) -> None:
    """Rotate now; when the node is unavailable, leave the rotation owed to `keep_key_packages`."""
    try:
        await agent.runtime.rotate_key_package()
        agent.rotation_owed = False
    except NodeError as exc:
        agent.rotation_owed = True
        log.warning("agent %s: key package rotation owed after a join: %s", agent.name, clean_error(exc))


async def keep_one(agent: Agent) -> bool:
    """An owed rotation, or one due by expiry; True when it rotated."""
    if agent.rotation_owed:
        await agent.runtime.rotate_key_package()
        agent.rotation_owed = False
        return True
    return await agent.runtime.rotate_key_package_if_due()


async def keep_key_packages(agents: Mapping[str, Agent], every_s: float = EVERY_S) -> None:
    """`keep_one` for every agent every `every_s` (the first round at start), until cancelled."""
    while True:
        for agent in agents.values():
            try:
                if await keep_one(agent):
                    log.info("agent %s: key package rotated", agent.name)
            except Exception as exc:  # the node or Postgres away: next round
                log.warning("agent %s: key package upkeep: %s", agent.name, clean_error(exc))
        await asyncio.sleep(every_s)
