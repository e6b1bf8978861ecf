"""Smoke test for bench/engine.py: a tiny run yields every figure, positive, so the bench keeps working as the
engine changes. No timing thresholds."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path

import asyncpg
from xmtp_core.pg_url import plain_pg_url

BENCH = Path(__file__).resolve().parents[4] / "bench" / "engine.py"


async def test_engine_bench_runs(database_url: str) -> None:
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_engine"] = module
    spec.loader.exec_module(module)
    admin = plain_pg_url(database_url)
    names = [f"b_{uuid.uuid4().hex[:16]}" for _ in range(2)]
    conn = await asyncpg.connect(admin)
    try:
        for name in names:
            await conn.execute(f'CREATE DATABASE "{name}"')
        urls = [admin.rsplit("/", 1)[0] + "/" + name for name in names]
        figures = await module.run(urls, messages=3, commits=2, group_size=5)
        assert len(figures) == 9 and all(value > 0 for value in figures.values())
    finally:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
