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


async def test_every_agent_and_table_of_a_process_shares_one_pool(database_url: str) -> None:
    """A router hosting many agents holds one pool per database, not one per agent and table (100 agents
    exhausted Postgres's connections); the last holder closes it."""
    ddl_b = DDL.replace("pg_race_t", "pg_race_u")
    tables = [pg.AgentTable(database_url, f"agent{n}", "pg_race_t", DDL, ttl_s=60) for n in range(5)]
    tables.append(pg.AgentTable(database_url, "agent0", "pg_race_u", ddl_b, ttl_s=60))
    pools = [await table._db() for table in tables]
    assert all(p is pools[0] for p in pools)
    for table in tables[:-1]:
        await table.close()
    assert not pools[0]._closed  # one holder left
    await tables[-1].close()
    assert pools[0]._closed
