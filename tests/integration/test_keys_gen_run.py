"""`switchboard keys gen` then `switchboard run` (what `make run` calls) on that `.env`: the stack comes up as the
agent whose address keys gen printed, and the echo agent answers `ping` with `pong`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.devservices import free_port

from .test_run_command import _ping, _start, _stop

pytestmark = pytest.mark.integration


def test_keys_gen_then_run_gives_a_working_agent(tmp_path: Path, database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XMTP_")}
    exe = Path(sys.executable).parent / "switchboard"
    out = subprocess.run(
        [str(exe), "keys", "gen", "--env-file", str(tmp_path / "agent.env")], env=env, capture_output=True,
        text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    address = out.rsplit("agent address: ", 1)[1].strip()
    proc, printed = _start(free_port(), tmp_path)  # run with --env-file tmp/agent.env
    try:
        assert printed["agent address"] == address
        assert asyncio.run(_ping(printed["node"], printed["agent address"], database_url)) == "pong"
        _stop(proc)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
