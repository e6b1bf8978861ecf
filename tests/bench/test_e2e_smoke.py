"""Smoke test for bench/e2e.py: `--quick` runs every phase end to end (devnode, our pipeline as processes with its
private NATS and Postgres, the node-sdk echo bot, libxmtp and cheap senders) and prints sane figures, so the
benchmark cannot rot. Nothing about speed is asserted: only that the run completes, every text sent by the libxmtp
senders was answered on both sides, and the figures exist and are positive."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "interop"))

from peer import node_modules_missing_message  # noqa: E402


def _rows(stdout: str) -> dict[str, list[str]]:
    """Table rows by their first cell's start (up to a comma or parenthesis) -> the other cells."""
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[re.split(r"[,(]", cells[0])[0].strip()] = cells[1:]
    return rows


def _number(cell: str) -> float:
    match = re.match(r"-?[\d.]+", cell)
    assert match, cell
    return float(match.group())


def test_e2e_quick_prints_sane_figures() -> None:
    missing = node_modules_missing_message()
    if missing:
        pytest.fail(missing, pytrace=False)  # as in interop: a missing peer fails, it never skips
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "e2e.py"), "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    rows = _rows(done.stdout)
    ours, bot = rows["echoes received / sent"][:2]
    for cell in (ours, bot):
        received, sent = (int(x) for x in cell.split("/"))
        assert sent > 0 and received == sent, cell
    for name in (
        "latency p50",
        "latency p99",
        "CPU ms per echo at that rate",
        "capacity",
        "CPU ms per echo at capacity",
    ):
        assert _number(rows[name][0]) > 0 and _number(rows[name][1]) > 0, (name, rows[name])
    assert _number(rows["latency p99"][0]) >= _number(rows["latency p50"][0])
    for name in ("node writes per echo",):  # an echo is at least its reply on the node
        assert _number(rows[name][0]) >= 1 and _number(rows[name][1]) >= 1, (name, rows[name])
    workers = rows["sleepy handler"][0].split("/")
    assert all(_number(w.strip()) > 0 for w in workers), workers
    scale = [cells for name, cells in rows.items() if name.startswith("scale:")]
    assert len(scale) == 1 and _number(scale[0][0]) > 0, scale
    assert "load average" in done.stdout
