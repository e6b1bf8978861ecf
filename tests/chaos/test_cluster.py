"""Beyond one server: the pipeline on a 3-node NATS JetStream cluster (loopback ports, every stream and KV bucket
replicated x3) with two replicas of each service, under a steady stream of DM texts from two libxmtp clients.
Mid-load one NATS server (the one leading SB_IN) and one replica of each service are SIGKILLed at once; the
survivors carry on. Afterwards every text is answered exactly once (counted at the libxmtp side), every intent is
Processed or Error with a reason, and crypto's, ingest's and the node's cursors agree; sent, answered, duplicates,
lost and the longest pause between consecutive answers are printed.

Ingest has no leader or lock: both replicas follow every topic and publish each envelope with `Nats-Msg-Id`
`<node topic>:<envelope id>`, so JetStream keeps the first copy and drops the other as a duplicate. crypto, router
and publisher replicas share the partitions' durable consumers.

Short form in `make test` (one round); `make chaos` (SB_CHAOS_FULL=1): a longer stream and a second round, in
which the killed server and replicas are started again and then the next SB_IN leader and the other replicas are
killed."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from chaoskit import Chat, SteadySender, settle, settled_state
from natscluster import NatsCluster, nats_cluster
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for

pytestmark = pytest.mark.interop
FULL = os.environ.get("SB_CHAOS_FULL") == "1"
ROUNDS = 2 if FULL else 1
TEXTS = 120 if FULL else 20
INTERVAL_S = 0.3
SERVICES = ("ingest", "crypto", "router", "publisher")
ROUTER_APP = ("--app", "examples.echo:agent")
DOWN_S = 3.0


async def test_cluster_loses_a_nats_server_and_a_replica_of_each_service_mid_load(
    peer: LibxmtpPeer, devnode: Any, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SB_STREAM_REPLICAS", "3")  # the streams and buckets Stack creates, and the services' own
    node_url = f"http://127.0.0.1:{devnode.port}"
    async with nats_cluster(tmp_path / "nats") as cluster:
        fast = {"SB_ACK_WAIT_S": "3", "SB_NAK_DELAY_S": "0.2", "NATS_URL": cluster.url}
        replicas = dict.fromkeys(SERVICES, 2)
        # Stack sets the bus up through its first argument's server; the services get every server (NATS_URL).
        async with Stack.start(node_url, database_url, cluster.urls[0], replicas=replicas, extra_env=fast) as stack:
            chats = []
            for name in ("alice", "bob"):
                await peer.create(name, node_url)
                chats.append(Chat(name, (await peer.create_dm(name, stack.agent_inbox_id))["id"]))
            sender = SteadySender(peer, chats, interval_s=INTERVAL_S, tag="cluster")
            stream = asyncio.create_task(sender.run(TEXTS))
            killed: set[tuple[str, int]] = set()
            notes: list[str] = []
            for round_ in range(ROUNDS):
                at = 3 + round_ * TEXTS // (ROUNDS + 1)
                await wait_for(lambda: _answered(peer, chats, stack), lambda n, at=at: n >= at, within=120)
                notes.append(await _kill_round(stack, cluster, killed))
                await asyncio.sleep(DOWN_S)  # the survivors alone meanwhile
                await _revive(stack, cluster, killed, before_next_round=round_ + 1 < ROUNDS)  # as k8s would
            await stream
            counts = await settle(peer, sender, stack.agent_inbox_id, within=300)
            state = await settled_state(database_url, stack.agent, node_url, [n.url for n in cluster.alive()])
            print(f"\nchaos cluster: {counts.line()}")
            print(f"chaos cluster: {'; '.join(notes)}")
            print(f"chaos cluster: {state.line()}")
            counts.check()
            state.check()
            _survivors_alive(stack, killed)


async def _kill_round(stack: Stack, cluster: NatsCluster, killed: set[tuple[str, int]]) -> str:
    """SIGKILL the node leading SB_IN and the oldest live replica of each service, all at once."""
    leader = await cluster.stream_leader("SB_IN")
    cluster.kill(leader)
    victims = []
    for service in SERVICES:
        index = min(i for i in range(len(stack.procs[service])) if (service, i) not in killed)
        stack.kill(service, index)
        killed.add((service, index))
        victims.append(f"{service}-{index}")
    began = time.monotonic()
    new_leader = await _leader_without(cluster, leader)
    return f"killed nats {leader} (SB_IN leader; {new_leader} leads after {time.monotonic() - began:.1f}s), {victims}"


async def _leader_without(cluster: NatsCluster, gone: str, within: float = 60.0) -> str:
    deadline = time.monotonic() + within
    while True:
        try:
            leader = await cluster.stream_leader("SB_IN")
            if leader != gone:
                return leader
        except Exception:  # no leader yet: the election is under way
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def _revive(stack: Stack, cluster: NatsCluster, killed: set[tuple[str, int]], *, before_next_round: bool) -> None:
    """Start the dead NATS node again (same ports and store) and a fresh replica for each killed one."""
    for node in cluster.nodes.values():
        if node.proc is not None and node.proc.poll() is not None:
            await cluster.restart(node.name)
    for service in SERVICES:
        dead = sum(1 for s, _ in killed if s == service)
        while len(stack.procs[service]) - dead < 2:
            stack.spawn(service, len(stack.procs[service]), *(ROUTER_APP if service == "router" else ()))
    if not before_next_round:
        return
    # The next round kills the other crypto replica: this one must be serving by then (with no crypto at all,
    # the router's sb.ops requests find no responder and its events are dead-lettered after SB_MAX_DELIVER).
    log = stack.logs / f"crypto-{len(stack.procs['crypto']) - 1}.log"
    started = f"agent {stack.agent}: inbox"
    await wait_for(lambda: asyncio.to_thread(_read, log), lambda text: started in text, within=180, every=0.5)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


async def _answered(peer: LibxmtpPeer, chats: list[Chat], stack: Stack) -> int:
    total = 0
    for chat in chats:
        total += len(from_agent(await peer.messages(chat.name, chat.dm), stack.agent_inbox_id))
    return total


def _survivors_alive(stack: Stack, killed: set[tuple[str, int]]) -> None:
    procs = [(s, i, p) for s, ps in stack.procs.items() for i, p in enumerate(ps) if (s, i) not in killed]
    dead = [f"{s}-{i}" for s, i, p in procs if p.poll() is not None]
    assert not dead, f"services exited: {dead}\n{stack.tail()}"
