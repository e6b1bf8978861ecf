"""Runtime between Python installations on a real devnode and real Postgres stores: streaming, concurrent
commits (the loser rebuilds on the new epoch), a policy refusal ending its intent in Error, and resume."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from xmtp_core.config import plain_pg_url
from xmtp_core.engine import ConversationJoined, EngineError, GroupUpdatedEvent, MessageReceived
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.node import NodeClient
from xmtp_core.runtime import Runtime
from xmtp_core.store import EncryptionKey, IntentState, KeyRing, Store
from xmtp_core.xmtp_mls.policies import MetadataField, admin_only_policy


@pytest.fixture
async def node(database_url: str) -> AsyncIterator[NodeClient]:
    from devnode.main import start

    running = await start("127.0.0.1:0", database_url)
    client = NodeClient.for_url(f"http://127.0.0.1:{running.port}")
    try:
        yield client
    finally:
        await client.close()
        await running.stop()


@pytest.fixture
async def make_runtime(database_url: str, node: NodeClient) -> AsyncIterator[Any]:
    admin = plain_pg_url(database_url)
    names: list[str] = []
    stores: list[Store] = []

    async def make() -> Runtime:
        name = f"r_{uuid.uuid4().hex[:16]}"
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        names.append(name)
        store = await Store.open(admin.rsplit("/", 1)[0] + "/" + name, KeyRing(EncryptionKey.generate()))
        stores.append(store)
        return await Runtime.register(node, store, LocalWalletSigner.generate())

    yield make
    for store in stores:
        await store.close()
    conn = await asyncpg.connect(admin)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def _next(stream: AsyncIterator[Any], kind: type) -> Any:
    async def find() -> Any:
        async for event in stream:
            if isinstance(event, kind):
                return event
        raise AssertionError("stream ended")

    return await asyncio.wait_for(find(), 30)


async def test_stream_joins_and_reads(make_runtime: Any) -> None:
    alice, bob = await make_runtime(), await make_runtime()
    stream = bob.stream()
    try:
        dm = await alice.create_dm(bob.keys.inbox_id)
        joined = await _next(stream, ConversationJoined)
        assert joined.conversation.group_id == dm and joined.conversation.dm_peer_inbox_id == alice.keys.inbox_id
        await alice.send(dm, "streamed")
        message = await _next(stream, MessageReceived)
        assert message.content.value == "streamed" and message.sender_inbox_id == alice.keys.inbox_id
    finally:
        await stream.aclose()


async def test_concurrent_commits_the_loser_is_rebuilt_on_the_new_epoch(make_runtime: Any) -> None:
    alice, bob = await make_runtime(), await make_runtime()
    gid = await alice.create_group([bob.keys.inbox_id], name="race")
    await bob.sync_welcomes()
    await bob.sync_group(gid)
    # Both publish a commit on the same epoch before either pulls: the node keeps both, the first wins.
    from xmtp_core.engine import update_metadata_intent

    a_intent = await alice._create_intent(gid, update_metadata_intent({MetadataField.DESCRIPTION: "alice's"}))
    b_intent = await bob._create_intent(gid, update_metadata_intent({MetadataField.GROUP_NAME: "bob's"}))
    assert await alice._publish(a_intent) and await bob._publish(b_intent)
    await alice.sync_group(gid)
    await bob.sync_group(gid)
    await alice.sync_group(gid)
    a_done, b_done = await alice.intent(a_intent.id), await bob.intent(b_intent.id)
    assert a_done is not None and a_done.state is IntentState.PROCESSED and a_done.attempts == 1
    assert b_done is not None and b_done.state is IntentState.PROCESSED and b_done.attempts == 2
    for runtime in (alice, bob):
        info = await runtime.conversation(gid)
        assert (info.name, info.description) == ("bob's", "alice's")
    # Alice saw Bob's first attempt after her own commit had closed its epoch.
    assert [r.reason.value for r in alice.rejections] == ["stale_commit"] and bob.rejections == []


async def test_policy_refusal_ends_the_intent_in_error(make_runtime: Any) -> None:
    alice, bob = await make_runtime(), await make_runtime()
    gid = await alice.create_group([bob.keys.inbox_id], name="admins only", policy=admin_only_policy())
    await bob.sync_welcomes()
    await bob.sync_group(gid)
    with pytest.raises(EngineError, match="policy_denied"):
        await bob.update_metadata(gid, {MetadataField.GROUP_NAME: "mine"})
    await alice.update_metadata(gid, {MetadataField.GROUP_NAME: "still alice's"})
    updates = [e for e in await bob.sync_group(gid) if isinstance(e, GroupUpdatedEvent)]
    assert [c.new_value for u in updates for c in u.update.metadata_field_changes] == ["still alice's"]


async def test_key_package_rotation(make_runtime: Any) -> None:
    alice, bob = await make_runtime(), await make_runtime()
    assert not await bob.rotate_key_package_if_due()  # fresh from register
    before = (await bob.node.fetch_key_packages([bob.keys.installation_key]))[0]
    await alice.create_dm(bob.keys.inbox_id)
    await bob.sync_all()  # joining used the published key package: a new one goes up
    after = (await bob.node.fetch_key_packages([bob.keys.installation_key]))[0]
    assert before is not None and after is not None and after != before


async def test_a_group_we_create_while_streaming_is_streamed(make_runtime: Any) -> None:
    alice, bob = await make_runtime(), await make_runtime()
    stream = alice.stream()
    try:
        first = asyncio.ensure_future(_next(stream, MessageReceived))
        await asyncio.sleep(0.5)  # let the stream subscribe before the group exists
        gid = await alice.create_group([bob.keys.inbox_id], name="made while streaming")
        await bob.sync_welcomes()
        await bob.sync_group(gid)
        await bob.send(gid, "into alice's stream")
        message = await first
        assert message.group_id == gid and message.content.value == "into alice's stream"
    finally:
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await stream.aclose()
