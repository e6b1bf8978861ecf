"""Smoke test for bench/engine.py: a tiny run yields every figure, positive, so the bench keeps working as the
engine changes. No timing thresholds."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parents[4] / "bench" / "engine.py"


async def test_engine_bench_runs(new_database: Callable[[], Awaitable[str]]) -> None:
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_engine"] = module
    spec.loader.exec_module(module)
    urls = [await new_database() for _ in range(2)]
    figures = await module.run(urls, messages=3, commits=2, group_size=5)
    assert len(figures) == 9 and all(value > 0 for value in figures.values())
