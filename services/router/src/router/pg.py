"""The router's own Postgres tables (wizard sessions, consent): one small pool per store, its table created on
first use. The router never touches the crypto store; these tables are the only ones it writes."""

from __future__ import annotations

import contextlib
from typing import Any


async def open_pool(url: str, ddl: str) -> Any:
    """An asyncpg pool on ``url`` with ``ddl`` (a CREATE TABLE IF NOT EXISTS) run once."""
    import asyncpg  # type: ignore[import-untyped]  # only routers that keep state need a database

    pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        # another replica may create it at the same moment
        with contextlib.suppress(asyncpg.UniqueViolationError, asyncpg.DuplicateTableError):
            await conn.execute(ddl)
    return pool
