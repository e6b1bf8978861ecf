"""Consent: whether the agent accepts a conversation or an inbox (`allowed`, `denied`, `unknown`), kept in a
router-owned Postgres table (`router_consent`) so every replica and restart agrees.

A conversation's state is its own record, else, for a DM, the peer inbox's record, else `unknown` (libxmtp's
order). As the Agent SDK's default stream (Allowed and Unknown), the worker does not dispatch messages of a
denied conversation; `Agent(include_denied=True)` keeps them. Crypto keeps no consent (its `set_consent` op
answers unsupported) and these states are not synced with the user's other apps (XMTP's preference sync):
they are the agent's own. A store that cannot be read is taken as `unknown` (fail open, with a warning), so a
database outage does not silence the agent."""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal, Protocol

from xmtp_core.pg_url import plain_pg_url

from router.pg import open_pool, release_pool

ConsentState = Literal["allowed", "denied", "unknown"]
STATES: tuple[ConsentState, ...] = ("allowed", "denied", "unknown")
TABLE = "router_consent"
_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    agent text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('conversation', 'inbox')),
    entity text NOT NULL,
    state text NOT NULL CHECK (state IN ('allowed', 'denied', 'unknown')),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent, kind, entity)
)"""


class ConsentStore(Protocol):
    async def get(self, kind: str, entity: str) -> ConsentState | None: ...

    async def set(self, kind: str, entity: str, state: ConsentState) -> None: ...


class MemoryConsent:
    """Consent in this process only (tests, one router in development)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], ConsentState] = {}

    async def get(self, kind: str, entity: str) -> ConsentState | None:
        return self._rows.get((kind, entity))

    async def set(self, kind: str, entity: str, state: ConsentState) -> None:
        self._rows[(kind, entity)] = state


class PostgresConsent:
    def __init__(self, database_url: str, agent: str) -> None:
        self._url = plain_pg_url(database_url)
        self._agent = agent
        self._pool: Any = None
        self._opening = asyncio.Lock()

    async def _db(self) -> Any:
        if self._pool is None:
            async with self._opening:  # every partition's first event arrives at once: one hold, not one each
                if self._pool is None:
                    self._pool = await open_pool(self._url, _DDL)
        return self._pool

    async def get(self, kind: str, entity: str) -> ConsentState | None:
        pool = await self._db()
        state = await pool.fetchval(
            f"SELECT state FROM {TABLE} WHERE agent=$1 AND kind=$2 AND entity=$3", self._agent, kind, entity
        )
        return state if state in STATES else None

    async def set(self, kind: str, entity: str, state: ConsentState) -> None:
        pool = await self._db()
        await pool.execute(
            f"INSERT INTO {TABLE} (agent, kind, entity, state) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (agent, kind, entity) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
            self._agent, kind, entity, state,
        )  # fmt: skip

    async def close(self) -> None:
        if self._pool is not None:
            self._pool = None
            await release_pool(self._url)


def consent_store(agent: str) -> ConsentStore:
    """Postgres when DATABASE_URL is set, else in memory."""
    url = os.environ.get("DATABASE_URL")
    return PostgresConsent(url, agent) if url else MemoryConsent()


def check_state(state: str) -> ConsentState:
    if state not in STATES:
        raise ValueError(f"consent is one of {', '.join(STATES)}")
    return state
