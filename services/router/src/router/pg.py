"""The router's own Postgres tables (wizard sessions, consent, effects): one small pool per store, its table
created on first use. The router never touches the crypto store; these tables are the only ones it writes."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from xmtp_core.pg_url import plain_pg_url


async def open_pool(url: str, ddl: str) -> Any:
    """An asyncpg pool on ``url`` with ``ddl`` (a CREATE TABLE IF NOT EXISTS) run once."""
    import asyncpg  # type: ignore[import-untyped]  # only routers that keep state need a database

    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        # another replica may create it at the same moment
        with contextlib.suppress(asyncpg.UniqueViolationError, asyncpg.DuplicateTableError):
            await conn.execute(ddl)
    return pool


class AgentTable:
    """A table of one agent's rows with an `updated_at`: opened (and created) on first use, when rows untouched
    for ``ttl_s`` are purged, as they are by `purge`."""

    def __init__(self, database_url: str, agent: str, table: str, ddl: str, ttl_s: float) -> None:
        self._url = plain_pg_url(database_url)
        self._agent = agent
        self._table = table
        self._ddl = ddl
        self._ttl_s = ttl_s
        self._pool: Any = None
        self._opening = asyncio.Lock()

    async def _db(self) -> Any:
        if self._pool is None:
            async with self._opening:  # every partition's first event arrives at once: one pool, not one each
                if self._pool is None:
                    pool = await open_pool(self._url, self._ddl)
                    self._pool = pool
                    await self.purge()
        return self._pool

    async def purge(self) -> int:
        """Delete this agent's rows untouched for the TTL; returns how many."""
        pool = await self._db()
        status = await pool.execute(
            f"DELETE FROM {self._table} WHERE agent=$1 AND updated_at < now() - make_interval(secs => $2)",
            self._agent, self._ttl_s,
        )  # fmt: skip
        return int(status.split()[-1])

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
