"""The router's own Postgres tables (wizard sessions, consent, effects): one pool per database in a process,
shared by every agent and table (each table created on first use). The router never touches the crypto store;
these tables are the only ones it writes."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from dataclasses import dataclass, field
from typing import Any

from xmtp_core.pg_url import plain_pg_url

POOL_MAX_SIZE = 10


@dataclass
class _Shared:
    pool: Any
    holders: int = 0
    tables: set[str] = field(default_factory=set)


# One pool per database and event loop, shared by every agent and table of the process: a router hosting 100
# agents held a pool per agent and table before (min 1 connection each), past Postgres's max_connections.
_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _Shared]] = weakref.WeakKeyDictionary()
_opening: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


async def open_pool(url: str, ddl: str) -> Any:
    """The process's asyncpg pool on ``url`` (opened on first use), with ``ddl`` (a CREATE TABLE IF NOT EXISTS)
    run once per pool. Each call is a holder: give it back with `release_pool`."""
    import asyncpg  # type: ignore[import-untyped]  # only routers that keep state need a database

    loop = asyncio.get_running_loop()
    lock = _opening.setdefault(loop, asyncio.Lock())
    async with lock:
        pools = _pools.setdefault(loop, {})
        shared = pools.get(url)
        if shared is None:
            shared = pools[url] = _Shared(await asyncpg.create_pool(url, min_size=1, max_size=POOL_MAX_SIZE))
        if ddl not in shared.tables:
            async with shared.pool.acquire() as conn:
                # another replica may create it at the same moment
                with contextlib.suppress(asyncpg.UniqueViolationError, asyncpg.DuplicateTableError):
                    await conn.execute(ddl)
            shared.tables.add(ddl)
        shared.holders += 1
        return shared.pool


async def release_pool(url: str) -> None:
    """One holder of ``url``'s pool is done with it; the last one closes it."""
    pools = _pools.get(asyncio.get_running_loop(), {})
    shared = pools.get(url)
    if shared is None:
        return
    shared.holders -= 1
    if shared.holders <= 0:
        del pools[url]
        await shared.pool.close()


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
            self._pool = None
            await release_pool(self._url)
