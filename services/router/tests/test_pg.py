"""The router's own tables on a real Postgres: the first uses of a table from every partition at once open one
pool (before, each opened its own and all but the last leaked)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from router import pg

DDL = "CREATE TABLE IF NOT EXISTS pg_race_t (agent text, k text, updated_at timestamptz DEFAULT now())"


async def test_concurrent_first_uses_open_one_pool(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Any] = []
    real = pg.open_pool

    async def counting(url: str, ddl: str) -> Any:
        await asyncio.sleep(0.05)  # the pool takes a while to connect: the other first uses arrive meanwhile
        pool = await real(url, ddl)
        opened.append(pool)
        return pool

    monkeypatch.setattr(pg, "open_pool", counting)
    table = pg.AgentTable(database_url, "a", "pg_race_t", DDL, ttl_s=60)
    try:
        pools = await asyncio.gather(*(table._db() for _ in range(8)))
        assert len(opened) == 1 and all(p is opened[0] for p in pools)
    finally:
        await table.close()
        for pool in opened[1:]:
            await pool.close()
