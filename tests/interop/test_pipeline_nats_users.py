"""The NATS config compose.yaml and the k8s local overlay run (deploy/k8s/overlays/local/nats.conf: one user per
service, each allowed only its subjects, JetStream encrypted at rest) carries the whole pipeline: a nats-server
started from that very file (store and port moved to a temporary directory), each service connected as its own
user, the echo agent answers a libxmtp DM. And the permissions bite: a service publishing outside its subjects
is refused by the server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import nats
import pytest
from nats.errors import Error as NatsError
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import DLQ, IN, ensure_streams

from switchboard.devservices import DevServices

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "k8s" / "overlays" / "local" / "nats.conf"
USERS = ("ingest", "crypto", "router", "publisher")
ADMIN = "testadmin"  # only this test's own connection (fresh streams, the agent record): not in the real config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def users_nats(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A nats-server from the deployment's nats.conf; (admin URL, per-user URLs)."""
    port = _free_port()
    passwords = {u: secrets.token_hex(16) for u in USERS}
    text = CONF.read_text()
    text = text.replace("port: 4222", f"listen: 127.0.0.1:{port}").replace("http_port: 8222", "")
    text = text.replace("store_dir: /data", f"store_dir: {tmp_path / 'js'}")
    admin_password = secrets.token_hex(16)
    text = text.replace("  users: [", f"  users: [\n    {{ user: {ADMIN}, password: {admin_password} }}", 1)
    conf = tmp_path / "nats.conf"
    conf.write_text(text)
    env = {**os.environ, "NATS_JS_KEY": secrets.token_hex(32)}
    env.update({f"NATS_{u.upper()}_PASSWORD": p for u, p in passwords.items()})
    exe = Path(sys.executable).parent / "nats-server"
    log = open(tmp_path / "nats.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(exe), "-c", str(conf)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
                break
            if proc.poll() is not None:
                raise RuntimeError((tmp_path / "nats.log").read_text())
        urls = {u: f"nats://{u}:{p}@127.0.0.1:{port}" for u, p in passwords.items()}
        yield f"nats://{ADMIN}:{admin_password}@127.0.0.1:{port}", urls
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        log.close()


class UserStack(Stack):
    """Stack whose every service connects as its own NATS user."""

    urls: ClassVar[dict[str, str]] = {}

    def spawn(self, service: str, index: int, *args: str) -> subprocess.Popen[bytes]:
        self.env = {**self.env, "NATS_URL": self.urls[service]}
        return super().spawn(service, index, *args)


@pytest.fixture
async def stack(
    devnode_url: str, database_url: str, services: DevServices, users_nats: tuple[str, dict[str, str]]
) -> AsyncIterator[Stack]:
    admin, UserStack.urls = users_nats
    async with UserStack.start(devnode_url, database_url, admin) as running:
        yield running


async def test_the_pipeline_runs_with_one_nats_user_per_service(
    peer: LibxmtpPeer, devnode_url: str, stack: Stack
) -> None:
    await peer.create("alice", devnode_url)
    dm = await peer.create_dm("alice", stack.agent_inbox_id)
    await peer.send_text("alice", dm["id"], "ping")

    async def answers() -> list[dict[str, Any]]:
        return from_agent(await peer.messages("alice", dm["id"]), stack.agent_inbox_id)

    got = await wait_for(answers, lambda a: len(a) >= 1, within=90)
    assert got[0]["content"] == "pong"
    logs = "\n".join(p.read_text(errors="replace") for p in stack.logs.glob("*.log"))
    assert not re.search(r"[Pp]ermissions? [Vv]iolation", logs), logs[-3000:]


@pytest.mark.parametrize(
    ("user", "subject"),
    [("router", "sb.pub.echo.g00"), ("ingest", "sb.ev.echo.g00.message"), ("publisher", "sb.in.echo.g00")],
)
async def test_a_service_cannot_publish_outside_its_subjects(
    users_nats: tuple[str, dict[str, str]], user: str, subject: str
) -> None:
    errors: list[Exception] = []

    async def on_error(exc: Exception) -> None:
        errors.append(exc)

    nc = await nats.connect(users_nats[1][user], error_cb=on_error)
    try:
        with contextlib.suppress(NatsError):
            await nc.publish(subject, b"x")
            await nc.flush()
        await asyncio.sleep(0.3)
    finally:
        await nc.close()
    assert any("permissions violation" in str(e).lower() for e in errors), errors


@pytest.mark.parametrize("user", ["ingest", "crypto", "router", "publisher"])
async def test_no_service_can_delete_or_purge_a_stream(users_nats: tuple[str, dict[str, str]], user: str) -> None:
    admin = await nats.connect(users_nats[0])
    try:
        await ensure_streams(admin.jetstream(), BusSettings())
        nc = await nats.connect(users_nats[1][user])
        try:
            js = nc.jetstream(timeout=1.0)  # a refused request gets no answer: do not wait 5 s for each
            for attempt in (js.delete_stream(IN.name), js.purge_stream(DLQ.name), js.delete_msg(DLQ.name, 1)):
                with pytest.raises(NatsError):  # no responders / timeout: the server drops the request
                    await attempt
        finally:
            await nc.close()
        info = await admin.jetstream().stream_info(IN.name)  # still there
        assert info.config.name == IN.name
    finally:
        await admin.close()
