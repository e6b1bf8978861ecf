"""`switchboard run` (what `make run` calls) on a machine without NATS_URL/DATABASE_URL: it starts its own NATS and
Postgres, serves devnode, and on Ctrl-C stops everything it started, leaving no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from switchboard.devservices import free_port

pytestmark = pytest.mark.integration


def _children(pid: int) -> set[int]:
    """All live descendants of pid, read from /proc."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        parent_of[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        nxt = {child for child, parent in parent_of.items() if parent in frontier}
        found |= nxt
        frontier = nxt
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_run_starts_everything_and_ctrl_c_leaves_nothing_behind() -> None:
    from xmtp_core.protos.identity.api.v1 import identity_pb2, identity_pb2_grpc

    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    port = free_port()
    exe = Path(sys.executable).parent / "switchboard"
    proc = subprocess.Popen(
        [str(exe), "run", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "devnode listening" in line:
                break
        out = "".join(lines)
        assert re.search(rf"devnode listening on 127\.0\.0\.1:{port}", out), out
        assert re.search(r"NATS\s+nats://127\.0\.0\.1:\d+", out), out
        assert re.search(r"Postgres\s+postgresql://", out), out

        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = identity_pb2_grpc.IdentityApiStub(channel)
            req = identity_pb2.GetInboxIdsRequest(
                requests=[identity_pb2.GetInboxIdsRequest.Request(identifier="0x" + "ab" * 20, identifier_kind=1)]
            )
            resp = stub.GetInboxIds(req, timeout=10)
            assert len(resp.responses) == 1
            assert not resp.responses[0].HasField("inbox_id")

        started = _children(proc.pid)
        names = " ".join(_cmdline(p) for p in started)
        assert "nats-server" in names, names
        assert "postgres" in names, names

        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does to the foreground group
        assert proc.wait(timeout=60) is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(p) for p in started):
            time.sleep(0.2)
        left = [f"{p}: {_cmdline(p)}" for p in started if _alive(p)]
        assert not left, left
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
