"""Sends that lose their way on the bus, on real NATS JetStream, Postgres and devnode: a publish while SB_PUB has
no stream (as during a leader election) is repeated, and fails as `NodeUnavailable` (never a raw NATS error)
when the stream stays away; an intent left Published with no publisher running is finished by the stale-intent
sweep once the publisher is back, and the peer gets the message once, also when two replicas sweep it at the
same moment. A send the node refuses for good ends in
Error (never swept again), and its command is answered `refused` at once (before, its retry found the stored
message and answered ok)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from crypto.agents import Agent, agent_database_url, open_agent
from crypto.republish import stale_groups, sweep
from crypto.sender import BusSender
from crypto.service import Crypto
from cryptokit import drop_database, python_peer
from nats.aio.client import Client
from nats.js import JetStreamContext
from publisher.service import Publisher
from xmtp_core.bus import subjects
from xmtp_core.bus.client import send_command
from xmtp_core.bus.schemas import PublishRequest, PublishResult, TextCommand, dump, parse
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import PUB, ensure_buckets, ensure_streams
from xmtp_core.engine import EngineError
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.node import NewGroupMessage, NodeClient, NodeRejected, NodeUnavailable
from xmtp_core.runtime import Runtime
from xmtp_core.runtime.core import Outgoing
from xmtp_core.store import EncryptionKey, IntentState, KeyRing

AGENT = "stale"


@pytest.fixture
def keys() -> KeyRing:
    return KeyRing(EncryptionKey.generate())


@pytest.fixture
async def agent(
    node: NodeClient, nc: Client, js: JetStreamContext, database_url: str, keys: KeyRing
) -> AsyncIterator[Agent]:
    sender = BusSender(AGENT, nc, js, timeout_s=1.5)
    agent = await open_agent(AGENT, node, database_url, sender, wallet=LocalWalletSigner.generate(), keys=keys)
    try:
        yield agent
    finally:
        await agent.runtime.store.close()
        await drop_database(database_url, agent_database_url(database_url, AGENT).rsplit("/", 1)[1])


@pytest.fixture
async def peer(node: NodeClient, database_url: str) -> AsyncIterator[Runtime]:
    async with python_peer(node, database_url) as runtime:
        yield runtime


def _what() -> Outgoing:
    return Outgoing(intent_id=1, build=0, group_id=b"\x01" * 16)


async def test_a_publish_while_sb_pub_is_away_is_repeated_until_it_is_back(
    nc: Client, js: JetStreamContext, settings: BusSettings
) -> None:
    await js.delete_stream(PUB.name)
    sender = BusSender(AGENT, nc, js, timeout_s=10)

    async def publisher_back() -> None:
        await asyncio.sleep(1.0)
        await ensure_streams(js, settings)
        sub = await js.subscribe(f"{subjects.PREFIX}.pub.>", stream=PUB.name)
        msg = await sub.next_msg(timeout=10)
        request = parse(PublishRequest, msg.data)
        result = PublishResult(
            agent=request.agent, conv=request.conv, intent_id=request.intent_id, build=request.build, status="accepted"
        )
        await nc.publish(subjects.result(AGENT, request.conv), dump(result))
        await sub.unsubscribe()

    back = asyncio.create_task(publisher_back())
    try:
        await sender.send_group_messages(_what(), [NewGroupMessage(b"envelope", b"hmac", True)])
    finally:
        await back  # the publish got through once the stream was back, and its result came
    stored = await js.stream_info(PUB.name)
    assert stored.state.messages == 1


async def test_a_publish_while_sb_pub_stays_away_is_node_unavailable(nc: Client, js: JetStreamContext) -> None:
    await js.delete_stream(PUB.name)
    sender = BusSender(AGENT, nc, js, timeout_s=1.0)
    with pytest.raises(NodeUnavailable, match="SB_PUB publish failed"):
        await sender.send_group_messages(_what(), [NewGroupMessage(b"envelope", b"hmac", True)])


async def _refusing_publisher(nc: Client, js: JetStreamContext) -> None:
    """A publisher whose node refuses everything for good (as for an envelope it cannot accept)."""
    sub = await js.subscribe(f"{subjects.PREFIX}.pub.>", stream=PUB.name)
    try:
        while True:
            msg = await sub.next_msg(timeout=30)
            request = parse(PublishRequest, msg.data)
            result = PublishResult(
                agent=request.agent, conv=request.conv, intent_id=request.intent_id, build=request.build,
                status="permanent", error="invalid group message",
            )  # fmt: skip
            await nc.publish(subjects.result(AGENT, request.conv), dump(result))
            await msg.ack()
    finally:
        await sub.unsubscribe()


async def test_an_intent_the_node_refuses_ends_in_error_and_is_not_swept(
    agent: Agent, peer: Runtime, nc: Client, js: JetStreamContext
) -> None:
    dm = await peer.create_dm(agent.inbox_id)
    await agent.runtime.sync_welcomes()
    publisher = asyncio.create_task(_refusing_publisher(nc, js))
    try:
        with pytest.raises(NodeRejected):
            await agent.runtime.send(dm, "refused", wait=False)
    finally:
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher
    async with agent.runtime.store.transaction() as s:
        (intent,) = await agent.runtime.store.intents.list_by_state(s, IntentState.ERROR)
    assert intent.error is not None
    assert "refused by the node" in intent.error and "invalid group message" in intent.error
    assert await stale_groups(agent, stale_s=0) == []  # nothing open: the sweep does not republish it for ever


async def test_a_command_the_node_refuses_is_answered_refused_at_once(
    agent: Agent, peer: Runtime, nc: Client, js: JetStreamContext, settings: BusSettings
) -> None:
    dm = await peer.create_dm(agent.inbox_id)
    await agent.runtime.sync_welcomes()
    buckets = await ensure_buckets(js, settings)
    tasks = [
        asyncio.create_task(_refusing_publisher(nc, js)),
        asyncio.create_task(Crypto(nc, js, {AGENT: agent}, settings).run(buckets)),
    ]
    try:
        command = TextCommand(agent=AGENT, idempotency_key="refused-1", conversation_id=dm.hex(), text="no")
        result = await send_command(nc, command, wait_s=20)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert (result.ok, result.error) == (False, "refused")  # not "unavailable" after MAX_DELIVER retries
    assert result.detail is not None and "invalid group message" in result.detail
    # The same message again (a handler re-run: same key, same text) is refused too, not taken for sent.
    with pytest.raises(EngineError, match="refused before"):
        await agent.runtime.send(dm, "no", idempotency_key="refused-1", wait=False)


async def _texts(peer: Runtime, group_id: bytes) -> list[Any]:
    await peer.sync_group(group_id)
    return [peer.registry.decode_bytes(m.content).value for m in await peer.messages(group_id)]


async def test_an_intent_left_published_is_finished_by_the_sweep_once(
    agent: Agent, peer: Runtime, node: NodeClient, js: JetStreamContext, settings: BusSettings
) -> None:
    dm = await peer.create_dm(agent.inbox_id)
    await agent.runtime.sync_welcomes()
    await js.delete_stream(PUB.name)  # the send's publish fails, as during a long election: the intent stays Published
    with pytest.raises(NodeUnavailable, match="SB_PUB publish failed"):
        await agent.runtime.send(dm, "owed", wait=False)
    assert await stale_groups(agent, stale_s=30) == []  # young: a send may still be waiting for its result
    assert await stale_groups(agent, stale_s=0) == [dm]
    assert "owed" not in await _texts(peer, dm)

    await ensure_streams(js, settings)
    publisher = asyncio.create_task(Publisher(node, js, settings).run())
    try:
        assert await sweep(agent, stale_s=0) == 1  # pulled (nothing there), published again, its echo pulled
        assert await stale_groups(agent, stale_s=0) == []
        texts: list[Any] = []
        for _ in range(50):
            texts = await _texts(peer, dm)
            if "owed" in texts:
                break
            await asyncio.sleep(0.1)
        assert await sweep(agent, stale_s=0) == 0  # nothing open: a second sweep sends nothing
        await asyncio.sleep(1.0)  # a second copy, if one were sent, would be on the node by now
        assert (await _texts(peer, dm)).count("owed") == 1
    finally:
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher


async def test_two_replicas_sweeping_one_stale_intent_at_once_send_it_once(
    agent: Agent, peer: Runtime, node: NodeClient, nc: Client, js: JetStreamContext, settings: BusSettings,
    database_url: str, keys: KeyRing,
) -> None:  # fmt: skip
    dm = await peer.create_dm(agent.inbox_id)
    await agent.runtime.sync_welcomes()
    await js.delete_stream(PUB.name)
    with pytest.raises(NodeUnavailable, match="SB_PUB publish failed"):
        await agent.runtime.send(dm, "owed to both", wait=False)
    # A second crypto replica: the same agent database, installation and keys, a process (runtime) of its own.
    sender = BusSender(AGENT, nc, js, timeout_s=5)
    wallet = LocalWalletSigner.generate()  # not used: the stored installation is opened
    replica = await open_agent(AGENT, node, database_url, sender, wallet=wallet, keys=keys)
    assert replica.inbox_id == agent.inbox_id
    await ensure_streams(js, settings)
    publisher = asyncio.create_task(Publisher(node, js, settings).run())
    try:
        assert await stale_groups(replica, stale_s=0) == [dm]
        swept = await asyncio.gather(sweep(agent, stale_s=0), sweep(replica, stale_s=0))
        assert sum(swept) >= 1  # both synced it (or one lost the race and logged): never an exception
        for _ in range(100):
            if not await stale_groups(agent, stale_s=0) and "owed to both" in await _texts(peer, dm):
                break
            await asyncio.sleep(0.1)
        assert await stale_groups(agent, stale_s=0) == []
        await asyncio.sleep(1.0)  # a second copy, if either replica had sent one, would be on the node by now
        assert (await _texts(peer, dm)).count("owed to both") == 1
    finally:
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher
        await replica.runtime.store.close()
