"""`switchboard crypto`: every agent's MLS state, behind the bus.

- SB_IN is consumed per partition (`PartitionedConsumer`, durable `crypto`): each envelope goes through its
  agent's runtime (`Inbound`: one transaction, guarded; envelopes the stream stored after it that came before
  it on the node are pulled first, by its `prev_id`), whose events land in the outbox; a join also rotates
  the key package (owed and retried by `key_packages` when the node refuses) and re-reads the group after the
  Welcome's cursor.
- `OutboxRelay` moves each agent's outbox to SB_EV; `Commands` serves SB_OUT; `Ops` serves `sb.ops.<agent>`.
- Built envelopes go out through `BusSender` (SB_PUB -> publisher -> node); a conversation whose intent stayed
  open too long (its publish or result lost) is synced again by `republish`.
- At start each agent's installation is opened (or registered once), its record written to KV `sb_agents`
  and every conversation's topic to `sb_topics`, so ingest follows them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from xmtp_core import health, telemetry
from xmtp_core.bus import kv as bus_kv
from xmtp_core.bus import subjects
from xmtp_core.bus.runner import Meta, PartitionedConsumer
from xmtp_core.bus.runner import Transient as BusTransient
from xmtp_core.bus.schemas import GroupEnvelope, InboundEnvelope, WelcomeEnvelope
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import IN, close_bounded, ensure_buckets, ensure_streams
from xmtp_core.engine import ConversationJoined
from xmtp_core.node import NodeClient
from xmtp_core.runtime import Transient
from xmtp_core.store import KeyRing
from xmtp_core.untrusted import clean_error

from crypto.agents import Agent, open_agent, pool_size_per_agent
from crypto.commands import Commands
from crypto.key_packages import keep_key_packages, rotate_after_join
from crypto.metrics import report_intents
from crypto.ops import Ops, resolve
from crypto.relay import OutboxRelay
from crypto.republish import republish_stale
from crypto.sender import BusSender

log = logging.getLogger(__name__)

DURABLE = "crypto"


class Crypto:
    def __init__(self, nc: NATS, js: JetStreamContext, agents: Mapping[str, Agent], settings: BusSettings) -> None:
        self.nc = nc
        self.js = js
        self.agents = agents
        self.settings = settings
        self.inbound = PartitionedConsumer(js, IN, DURABLE, InboundEnvelope, self.handle, settings, dlq_hop="crypto")

    async def handle(self, envelope: GroupEnvelope | WelcomeEnvelope, meta: Meta) -> None:
        """One SB_IN envelope through its agent's runtime; `Transient` when it must be retried."""
        agent = self.agents.get(envelope.agent)
        if agent is None or envelope.agent != meta.agent:
            return  # not an agent of this deployment (or a forged subject): nothing to do, acked
        runtime = agent.runtime
        try:
            if isinstance(envelope, GroupEnvelope):
                await runtime.inbound.handle_group_message(envelope.to_node(), envelope.prev_id)
                return
            joined = [
                e for e in await runtime.inbound.handle_welcome(envelope.to_node()) if isinstance(e, ConversationJoined)
            ]
            for event in joined:  # a group joined again re-reads what came after its Welcome
                await runtime.sync_group(event.conversation.group_id)
            if joined:
                await rotate_after_join(agent)
        except Transient as exc:
            raise BusTransient(str(exc)) from exc

    async def run(self, buckets: Mapping[str, KeyValue]) -> None:
        topics = buckets[subjects.KV_TOPICS]
        relays = [OutboxRelay(a, self.js, topics) for a in self.agents.values()]
        commands = Commands(self.nc, self.js, self.agents, resolve, ack_wait_s=self.settings.ack_wait_s * 2)
        ops = Ops(self.nc, self.agents, topics)
        async with asyncio.TaskGroup() as group:
            for agent in self.agents.values():
                group.create_task(_resume(agent), name=f"resume-{agent.name}")
            group.create_task(self.inbound.run(), name="crypto-in")
            group.create_task(commands.run(), name="crypto-out")
            group.create_task(ops.run(), name="crypto-ops")
            group.create_task(report_intents(self.agents), name="crypto-intent-metrics")
            group.create_task(republish_stale(self.agents), name="crypto-stale-intents")
            group.create_task(keep_key_packages(self.agents), name="crypto-key-packages")
            for relay in relays:
                group.create_task(relay.run(), name=f"relay-{relay.agent.name}")


async def _resume(agent: Agent) -> None:
    """Unfinished intents of an earlier run, published again once the bus is up (a failure is retried by the
    next sync of the conversation, so it does not stop the service)."""
    try:
        await agent.runtime.resume()
    except Exception as exc:
        log.warning("resume of %s: %s", agent.name, clean_error(exc))


async def announce(agent: Agent, buckets: Mapping[str, KeyValue]) -> None:
    """The agent's record and every conversation's topic into KV, for ingest."""
    record = bus_kv.AgentRecord(
        installation_key=agent.installation_key.hex(), inbox_id=agent.inbox_id, address=agent.address
    )
    await bus_kv.put_agent(buckets[subjects.KV_AGENTS], agent.name, record)
    for conv in await agent.runtime.conversations():
        await bus_kv.put_topic(buckets[subjects.KV_TOPICS], agent.name, subjects.group_conv(conv.group_id))


async def serve(
    settings: BusSettings | None = None, *, database_url: str | None = None, keys: KeyRing | None = None
) -> None:
    settings = settings or BusSettings()
    url = database_url or os.environ["DATABASE_URL"]
    names = settings.agents or ["agent"]
    telemetry.setup("crypto")  # before the node channel and Postgres pools exist: they are instrumented
    nc = await nats.connect(settings.nats_servers, name="switchboard-crypto", max_reconnect_attempts=-1)
    try:
        js = nc.jetstream()
        await ensure_streams(js, settings)
        buckets = await ensure_buckets(js, settings)
        async with NodeClient.from_env(app_version="switchboard-crypto/0.1") as node:
            agents: dict[str, Agent] = {}
            for name in names:
                agents[name] = await open_agent(
                    name, node, url, BusSender(name, nc, js), keys=keys, pool_size=pool_size_per_agent(len(names))
                )
                await announce(agents[name], buckets)
                log.info("agent %s: inbox %s, address %s", name, agents[name].inbox_id, agents[name].address)
            checks = {
                "nats": health.nats_check(nc),
                "postgres": health.postgres_check(url),
                "node": health.node_check(node),
            }
            try:
                async with health.serving("crypto", checks):
                    await Crypto(nc, js, agents, settings).run(buckets)
            finally:
                for agent in agents.values():
                    await agent.runtime.store.close()
    finally:
        await close_bounded(nc)
        telemetry.shutdown()  # flush the last spans
