"""Each agent's last-resort key package on the node: rotated after a Welcome used it, and before it expires.

A join rotates at once (`rotate_after_join`). Whether a rotation is owed is read from the agent's store (the
join marks the key package it used in its transaction; a rotation marks the new one uploaded only once the node
took it), so when the node refuses or is away (a 429 under its rate limit, a restart), or crypto dies between
the join and the upload, the rotation is owed, not lost: the envelope is done either way, and
`keep_key_packages` checks every agent every `EVERY_S` (the first round at start). The same check rotates a key
package nearing its expiry, which a long-running crypto would otherwise let lapse (no one could add the agent
to a conversation any more). A failure is logged and tried again next round."""

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
    """Rotate now if the join used the key package the node hands out; when the node is unavailable the
    rotation stays owed in the store, for `keep_key_packages`."""
    try:
        await agent.runtime.rotate_key_package_if_due()
    except NodeError as exc:
        log.warning("agent %s: key package rotation owed after a join: %s", agent.name, clean_error(exc))


async def keep_key_packages(agents: Mapping[str, Agent], every_s: float = EVERY_S) -> None:
    """An owed or due rotation for every agent every `every_s` (the first round at start), until cancelled."""
    while True:
        for agent in agents.values():
            try:
                if await agent.runtime.rotate_key_package_if_due():
                    log.info("agent %s: key package rotated", agent.name)
            except Exception as exc:  # the node or Postgres away: next round
                log.warning("agent %s: key package upkeep: %s", agent.name, clean_error(exc))
        await asyncio.sleep(every_s)
