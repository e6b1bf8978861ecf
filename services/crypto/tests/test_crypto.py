"""The crypto service between ingest and the publisher, on real NATS JetStream, Postgres and devnode: a peer's
message becomes one event on SB_EV, a command on SB_OUT reaches the peer (once per idempotency key), a malformed
command gets an error result and a dead letter, and an op creates a DM."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from crypto.agents import agent_database_url, open_agent
from crypto.sender import BusSender
from crypto.service import Crypto, announce
from cryptokit import drop_database, python_peer
from ingest.service import Ingest
from nats.aio.client import Client
from nats.js import JetStreamContext
from publisher.service import Publisher
from xmtp_core.bus import subjects
from xmtp_core.bus.schemas import CommandResult, Event, OpResponse, TextCommand, dump, parse
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import ensure_buckets
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.node import NodeClient
from xmtp_core.runtime import Runtime
from xmtp_core.store import EncryptionKey, KeyRing

AGENT = "echo"


@pytest.fixture
async def pipeline(
    node: NodeClient, nc: Client, js: JetStreamContext, settings: BusSettings, database_url: str
) -> AsyncIterator[dict[str, Any]]:
    """Ingest, crypto (one agent) and the publisher as tasks of this process, plus a Python peer."""
    buckets = await ensure_buckets(js, settings)
    agent = await open_agent(
        AGENT, node, database_url, BusSender(AGENT, nc, js), wallet=LocalWalletSigner.generate(),
        keys=KeyRing(EncryptionKey.generate()),
    )  # fmt: skip
    await announce(agent, buckets)
    crypto = Crypto(nc, js, {AGENT: agent}, settings)
    tasks = [
        asyncio.create_task(Ingest(node, js, buckets, settings).run()),
        asyncio.create_task(Publisher(node, js, settings).run()),
        asyncio.create_task(crypto.run(buckets)),
    ]
    try:
        async with python_peer(node, database_url) as peer:
            yield {"agent": agent, "peer": peer, "crypto": crypto}
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await agent.runtime.store.close()
        await drop_database(database_url, agent_database_url(database_url, AGENT).rsplit("/", 1)[1])


async def _events(nc: Client) -> tuple[asyncio.Queue[Any], Any]:
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def on(msg: Any) -> None:
        await queue.put(parse(Event, msg.data))

    return queue, await nc.subscribe(f"{subjects.PREFIX}.ev.>", cb=on)


async def _next(queue: asyncio.Queue[Any], kind: str) -> Any:
    async def find() -> Any:
        while True:
            event = await queue.get()
            if event.kind == kind:
                return event

    return await asyncio.wait_for(find(), 30)


async def _command(nc: Client, js: JetStreamContext, payload: bytes, key: str) -> CommandResult:
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    headers = {subjects.MSG_ID_HEADER: f"out:{AGENT}:{key}", subjects.REPLY_TO_HEADER: inbox}
    await js.publish(subjects.outbound(AGENT), payload, stream="SB_OUT", headers=headers)
    try:
        msg = await sub.next_msg(timeout=30)
    finally:
        await sub.unsubscribe()
    result: CommandResult = parse(CommandResult, msg.data)
    return result


async def test_a_message_becomes_one_event_and_a_command_reaches_the_peer(
    pipeline: dict[str, Any], nc: Client, js: JetStreamContext
) -> None:
    agent, peer = pipeline["agent"], pipeline["peer"]
    events, sub = await _events(nc)
    try:
        dm = await peer.create_dm(agent.inbox_id)
        joined = await _next(events, "joined")
        assert joined.conversation.conversation_id == dm.hex()
        await peer.send(dm, "hello agent")
        message = await _next(events, "message")
        text = agent.runtime.registry.decode_bytes(message.encoded_content).value
        assert text == "hello agent" and message.sender_inbox_id == peer.keys.inbox_id and not message.is_own

        cmd = TextCommand(agent=AGENT, idempotency_key="reply-1", conversation_id=dm.hex(), text="pong")
        first = await _command(nc, js, dump(cmd), "reply-1")
        assert first.ok and first.conversation_id == dm.hex()
        # The same command again (a sender's retry with a new msg id): the message is not sent twice.
        again = await _command(nc, js, dump(cmd), "reply-1-retry")
        assert again.ok and again.message_id == first.message_id
        stored: list[object] = []
        for _ in range(50):
            await peer.sync_group(dm)
            stored = [peer.registry.decode_bytes(m.content).value for m in await peer.messages(dm)]
            if "pong" in stored:
                break
            await asyncio.sleep(0.2)
        assert stored.count("pong") == 1, stored
    finally:
        await sub.unsubscribe()


async def test_a_command_for_a_conversation_the_agent_does_not_hold_is_answered_not_found(
    pipeline: dict[str, Any], nc: Client, js: JetStreamContext
) -> None:
    cmd = TextCommand(agent=AGENT, idempotency_key="nowhere-1", conversation_id=bytes(16).hex(), text="pong")
    result = await _command(nc, js, dump(cmd), "nowhere-1")
    assert not result.ok and result.error == "not_found" and result.idempotency_key == "nowhere-1"


async def test_a_malformed_command_gets_an_error_and_a_dead_letter(
    pipeline: dict[str, Any], nc: Client, js: JetStreamContext
) -> None:
    letters: asyncio.Queue[Any] = asyncio.Queue()

    async def on(msg: Any) -> None:
        await letters.put(json.loads(msg.data))

    sub = await nc.subscribe(subjects.dead_letter("crypto"), cb=on)
    try:
        result = await _command(nc, js, b'{"type": "text", "agent": "echo", "text": ""}', "bad-1")
        assert not result.ok and result.error == "invalid_command"
        letter = await asyncio.wait_for(letters.get(), 10)
        assert letter["hop"] == "crypto" and "invalid command" in letter["reason"]
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def test_an_op_creates_a_dm_the_peer_joins(pipeline: dict[str, Any], nc: Client) -> None:
    agent, peer = pipeline["agent"], pipeline["peer"]
    request = json.dumps({"v": 1, "op": "create_dm", "agent": AGENT, "to_inbox_id": peer.keys.inbox_id}).encode()
    reply = await nc.request(subjects.ops(AGENT), request, timeout=30)
    response = parse(OpResponse, reply.data)
    assert response.ok and response.conversation is not None
    assert response.conversation.dm_peer_inbox_id == peer.keys.inbox_id
    await peer.sync_welcomes()
    assert bytes.fromhex(response.conversation.conversation_id) in [c.group_id for c in await peer.conversations()]
    assert response.conversation.creator_inbox_id == agent.inbox_id


async def test_a_relay_that_dies_between_publish_and_commit_emits_the_event_once(
    node: NodeClient, nc: Client, js: JetStreamContext, settings: BusSettings, database_url: str
) -> None:
    """The outbox row stays pending when the relay dies after the PubAck and before its transaction commits; the
    next relay publishes it again and JetStream drops the copy by its msg id: one event on SB_EV."""

    buckets = await ensure_buckets(js, settings)
    agent = await open_agent(
        AGENT, node, database_url, BusSender(AGENT, nc, js), wallet=LocalWalletSigner.generate(),
        keys=KeyRing(EncryptionKey.generate()),
    )  # fmt: skip
    try:
        async with python_peer(node, database_url) as peer:
            await _relay_dies_once(agent, peer, js, buckets)
    finally:
        await agent.runtime.store.close()
        await drop_database(database_url, agent_database_url(database_url, AGENT).rsplit("/", 1)[1])


async def _relay_dies_once(agent: Any, peer: Runtime, js: JetStreamContext, buckets: Any) -> None:
    from crypto.relay import OutboxRelay

    dm = await peer.create_dm(agent.inbox_id)
    await agent.runtime.sync_all()  # the join goes to the outbox (the node is read directly here)
    await peer.send(dm, "exactly one event")
    await agent.runtime.sync_group(dm)

    class DiesAfterPublish:
        def __init__(self) -> None:
            self.published = 0

        async def publish(self, *args: Any, **kwargs: Any) -> Any:
            await js.publish(*args, **kwargs)
            self.published += 1
            raise SystemExit("killed after the PubAck")  # not an Exception: the relay's retry does not see it

    dying = DiesAfterPublish()
    with pytest.raises(SystemExit):
        await OutboxRelay(agent, dying, buckets["sb_topics"]).relay_once()  # type: ignore[arg-type]
    assert dying.published == 1
    assert await OutboxRelay(agent, js, buckets["sb_topics"]).relay_once() == 2  # joined + message, again
    info = await js.stream_info("SB_EV")
    assert info.state.messages == 2  # the first copy of the join stayed; its repeat was dropped
