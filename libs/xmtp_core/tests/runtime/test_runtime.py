"""Runtime between Python installations on a real devnode and real Postgres stores: streaming, concurrent
commits (the loser rebuilds on the new epoch), a policy refusal ending its intent in Error, and resume."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from xmtp_core.engine import ConversationJoined, EngineError, EnvelopeRejected, GroupUpdatedEvent, MessageReceived
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.node import NodeClient, NodeUnavailable
from xmtp_core.runtime import Runtime, UnknownConversation, group_topic
from xmtp_core.store import EncryptionKey, IntentState, KeyRing, Store
from xmtp_core.xmtp_mls.policies import MetadataField, admin_only_policy


@pytest.fixture
def node(devnode_client: NodeClient) -> NodeClient:
    """The root conftest's node client, by the name these tests use."""
    return devnode_client


@pytest.fixture
async def make_runtime(new_database: Callable[[], Awaitable[str]], node: NodeClient) -> AsyncIterator[Any]:
    stores: list[Store] = []

    async def make() -> Runtime:
        store = await Store.open(await new_database(), KeyRing(EncryptionKey.generate()))
        stores.append(store)
        return await Runtime.register(node, store, LocalWalletSigner.generate())

    yield make
    for store in stores:
        await store.close()


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

    a_intent = await alice.outbound.create_intent(gid, update_metadata_intent({MetadataField.DESCRIPTION: "alice's"}))
    b_intent = await bob.outbound.create_intent(gid, update_metadata_intent({MetadataField.GROUP_NAME: "bob's"}))
    assert await alice.outbound.publish(a_intent) and await bob.outbound.publish(b_intent)
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


async def test_a_rotation_refused_after_a_join_stays_owed_across_a_restart(
    make_runtime: Any, node: NodeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = await make_runtime(), await make_runtime()
    used = (await node.fetch_key_packages([bob.keys.installation_key]))[0]
    await alice.create_dm(bob.keys.inbox_id)

    async def refuse(key_package: bytes) -> None:
        raise NodeUnavailable("UploadKeyPackage", "write limit per 300s reached: retry later")

    monkeypatch.setattr(node, "upload_key_package", refuse)
    with pytest.raises(NodeUnavailable):
        await bob.sync_welcomes()  # joined (committed), then the rotation is refused
    monkeypatch.undo()
    assert [c.group_id for c in await bob.conversations()]
    # A new process on the same store (crypto restarted): the owed rotation is read from the store, not memory.
    again = await Runtime.open(node, bob.store)
    assert await again.rotate_key_package_if_due()
    fresh = (await node.fetch_key_packages([bob.keys.installation_key]))[0]
    assert fresh is not None and fresh != used
    assert not await again.rotate_key_package_if_due()  # paid: nothing owed any more


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


async def test_messages_arriving_while_the_agent_sends_are_all_streamed(make_runtime: Any) -> None:
    """An echo agent on `stream()` + `send()`: the envelopes each send's pull handles must still reach the
    stream (they used to be marked processed there and dropped: 4 of 50 answered)."""
    alice, bob = await make_runtime(), await make_runtime()
    dm = await alice.create_dm(bob.keys.inbox_id)
    count = 15
    seen: list[str] = []

    async def echo() -> None:
        stream = bob.stream()
        try:
            async for event in stream:
                if isinstance(event, MessageReceived) and event.sender_inbox_id == alice.keys.inbox_id:
                    seen.append(event.content.value)
                    await bob.send(event.group_id, f"echo: {event.content.value}")
                    if len(seen) == count:
                        return
        finally:
            await stream.aclose()

    agent = asyncio.ensure_future(echo())
    await asyncio.sleep(0.5)
    for i in range(count):
        await alice.send(dm, f"m{i}")
    await asyncio.wait_for(agent, 60)
    assert seen == [f"m{i}" for i in range(count)]
    await alice.sync_group(dm)
    echoes = [alice.registry.decode_bytes(m.content).value for m in await alice.messages(dm)]
    assert [e for e in echoes if str(e).startswith("echo: ")] == [f"echo: m{i}" for i in range(count)]


async def test_open_hands_resumed_events_to_the_stream(make_runtime: Any) -> None:
    """Events of envelopes `resume()` handles at `open()` reach the next `stream()`."""
    alice, bob = await make_runtime(), await make_runtime()
    dm = await alice.create_dm(bob.keys.inbox_id)
    await bob.sync_all()
    await alice.send(dm, "while bob was away")
    await bob.sync_group(dm)  # handled outside any stream: still owed to the application
    stream = bob.stream()
    try:
        message = await _next(stream, MessageReceived)
        assert message.content.value == "while bob was away"
    finally:
        await stream.aclose()


async def test_a_member_removed_and_added_back_hears_the_group_again(make_runtime: Any) -> None:
    alice, bob = await make_runtime(), await make_runtime()
    gid = await alice.create_group([bob.keys.inbox_id], name="come back")
    await bob.sync_all()
    await alice.remove_members(gid, [bob.keys.inbox_id])
    await bob.sync_all()
    await alice.send(gid, "bob is away")
    await alice.add_members(gid, [bob.keys.inbox_id])
    await alice.send(gid, "welcome back bob")
    events = await bob.sync_all()
    assert any(isinstance(e, ConversationJoined) and e.conversation.group_id == gid for e in events)
    texts = [e.content.value for e in events if isinstance(e, MessageReceived)]
    assert texts == ["welcome back bob"]
    await bob.send(gid, "i am back")
    await alice.sync_group(gid)
    texts = [alice.registry.decode_bytes(m.content).value for m in await alice.messages(gid)]
    assert "i am back" in texts


async def _dm_pair(make_runtime: Any) -> tuple[Runtime, Runtime, bytes]:
    alice, bob = await make_runtime(), await make_runtime()
    dm = await alice.create_dm(bob.keys.inbox_id)
    await bob.sync_all()
    return alice, bob, dm


def _texts(events: list[Any]) -> list[Any]:
    return [e.content.value for e in events if isinstance(e, MessageReceived)]


async def test_an_unknown_content_type_with_a_nul_in_it_is_stored_cleaned(make_runtime: Any) -> None:
    """A DM peer's content type is attacker text: a NUL in it used to fail the insert (Postgres refuses NUL in
    text) and jam the conversation for good."""
    from xmtp_core.content.types import ContentTypeId, EncodedContent
    from xmtp_core.engine import send_message_intent

    alice, bob, dm = await _dm_pair(make_runtime)
    hostile = EncodedContent(ContentTypeId("evil\x00corp", "x\ny", 1, 0), b"\x00payload").to_bytes()
    await alice.run_intent(dm, send_message_intent(hostile, "k1"))
    await alice.send(dm, "after the hostile one")
    events = await bob.sync_group(dm)
    unknown = [e for e in events if isinstance(e, MessageReceived) and not e.content.known]
    assert len(unknown) == 1 and _texts(events)[-1] == "after the hostile one"
    stored = [m.content_type for m in await bob.messages(dm)]
    assert "evil\ufffdcorp/x\ufffdy:1.0" in stored and all("\x00" not in t for t in stored)


async def test_a_poison_envelope_is_recorded_and_skipped(make_runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything processing raises that no engine rule names ends the envelope rejected (`unexpected`), once;
    the next genuine message is delivered and later syncs do not trip on it again."""
    import xmtp_core.runtime.inbound as inbound

    alice, bob, dm = await _dm_pair(make_runtime)
    await alice.send(dm, "poison")
    await alice.send(dm, "genuine")
    real = inbound.process_envelope
    calls = {"n": 0}

    async def explode_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("bad\x00bytes\nforged log line")
        return await real(*args, **kwargs)

    monkeypatch.setattr(inbound, "process_envelope", explode_once)
    events = await bob.sync_group(dm)
    rejected = [e for e in events if isinstance(e, EnvelopeRejected)]
    assert [r.reason.value for r in rejected] == ["unexpected"]
    assert "\x00" not in rejected[0].detail and "\n" not in rejected[0].detail
    assert _texts(events) == ["genuine"]
    assert await bob.sync_group(dm) == []
    await alice.send(dm, "still talking")
    assert _texts(await bob.sync_group(dm)) == ["still talking"]


async def test_a_transient_failure_leaves_the_envelope_for_a_retry(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import xmtp_core.runtime.inbound as inbound
    from xmtp_core.node.errors import NodeUnavailable
    from xmtp_core.runtime import Transient

    alice, bob, dm = await _dm_pair(make_runtime)
    await alice.send(dm, "later")
    real = inbound.process_envelope

    async def node_down(*args: Any, **kwargs: Any) -> Any:
        raise NodeUnavailable("GetIdentityUpdates", "down")

    monkeypatch.setattr(inbound, "process_envelope", node_down)
    with pytest.raises(Transient):
        await bob.sync_group(dm)
    monkeypatch.setattr(inbound, "process_envelope", real)
    assert _texts(await bob.sync_group(dm)) == ["later"]  # not marked: processed once the node is back


async def test_a_transient_failure_that_never_passes_ends_the_envelope(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attacker-chosen look-up that always times out must not stall the conversation for ever."""
    import xmtp_core.runtime.inbound as inbound
    from xmtp_core.node.errors import NodeUnavailable
    from xmtp_core.runtime import Transient
    from xmtp_core.runtime.guard import MAX_TRANSIENT_FAILURES

    alice, bob, dm = await _dm_pair(make_runtime)
    await alice.send(dm, "stuck")
    real = inbound.process_envelope
    stuck = {"id": -1}

    async def always_down(group: Any, envelope: Any, *args: Any, **kwargs: Any) -> Any:
        if stuck["id"] in (-1, envelope.id):
            stuck["id"] = envelope.id
            raise NodeUnavailable("GetIdentityUpdates", "deadline exceeded")
        return await real(group, envelope, *args, **kwargs)

    monkeypatch.setattr(inbound, "process_envelope", always_down)
    for _ in range(MAX_TRANSIENT_FAILURES - 1):
        with pytest.raises(Transient):
            await bob.sync_group(dm)
    events = await bob.sync_group(dm)
    assert [e.reason.value for e in events if isinstance(e, EnvelopeRejected)] == ["retries_exhausted"]
    await alice.send(dm, "moving on")
    assert _texts(await bob.sync_group(dm)) == ["moving on"]


async def test_a_send_with_a_known_idempotency_key_sends_nothing_new(make_runtime: Any) -> None:
    """A handler re-run after a crash repeats its sends with the same keys: the peer sees each message once."""
    alice, bob, dm = await _dm_pair(make_runtime)
    first = await bob.send(dm, "exactly once", idempotency_key="inbound-42:0")
    again = await bob.send(dm, "exactly once", idempotency_key="inbound-42:0")
    assert not first.duplicate and again.duplicate and again.message_id == first.message_id
    assert _texts(await alice.sync_group(dm)) == ["exactly once"]


async def test_a_send_to_a_conversation_the_store_does_not_hold_is_refused_before_the_node(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The send's read transaction checks the conversation (crypto answers not_found on it): no pull from the
    node, no intent, no stored copy."""
    bob = await make_runtime()
    unknown = bytes(range(16))
    pulls: list[bytes] = []
    real = bob.node.iter_group_messages

    def counted(group_id: bytes, **kwargs: Any) -> Any:
        pulls.append(group_id)
        return real(group_id, **kwargs)

    monkeypatch.setattr(bob.node, "iter_group_messages", counted)
    with pytest.raises(UnknownConversation):
        await bob.send(unknown, "to nobody", idempotency_key="k-1")
    assert pulls == [] and await bob.messages(unknown) == []


def _hostile_contents() -> Any:
    """EncodedContent bytes a real member may send: garbage, hostile type ids (NUL, newlines, 300 characters),
    bad compression, oversize declared parameters."""
    from hypothesis import strategies as st
    from xmtp_core.content.types import Compression, ContentTypeId, EncodedContent

    text = st.text(st.characters(codec="utf-8"), max_size=300)
    typed = st.builds(
        lambda a, t, c, p, comp: EncodedContent(ContentTypeId(a, t, 1, 0), c, p, None, comp).to_bytes(),
        st.sampled_from(["xmtp.org", "evil\x00", "a\nb", "x" * 300]) | text,
        st.sampled_from(["text", "reply", "reaction", "remoteStaticAttachment", "group_updated"]) | text,
        st.binary(max_size=2048),
        st.dictionaries(text, text, max_size=4),
        st.sampled_from([None, Compression.DEFLATE, Compression.GZIP]),
    )
    return st.one_of(st.binary(max_size=4096), typed)


async def test_hostile_contents_from_a_real_member_never_stop_the_next_genuine_message(make_runtime: Any) -> None:
    """Hypothesis through the runtime with a real Postgres and devnode: whatever a member's validly encrypted
    message carries, the receiver's sync ends normally and the genuine text sent after it is delivered."""
    from hypothesis import HealthCheck, given, settings
    from xmtp_core.engine import send_message_intent

    alice, bob, dm = await _dm_pair(make_runtime)
    loop = asyncio.get_running_loop()
    rounds = {"n": 0}

    async def exchange(hostile: bytes) -> list[Any]:
        rounds["n"] += 1
        await alice.run_intent(dm, send_message_intent(hostile, f"hostile-{rounds['n']}"))
        await alice.send(dm, f"genuine {rounds['n']}")
        return _texts(await bob.sync_group(dm))  # must not raise

    # Hypothesis drives a plain function; it runs in a worker thread and hands each example to this loop.
    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(_hostile_contents())
    def one(hostile: bytes) -> None:
        texts = asyncio.run_coroutine_threadsafe(exchange(hostile), loop).result(timeout=120)
        assert texts[-1:] == [f"genuine {rounds['n']}"]

    await asyncio.to_thread(one)
    assert rounds["n"] >= 12


async def test_one_message_in_two_envelopes_is_one_message_event(make_runtime: Any) -> None:
    """The same PlaintextEnvelope (idempotency key and content) published twice, as a libxmtp retry or a replay
    does: two envelopes on the node, one message id, and only the first becomes a MessageReceived event (libxmtp
    keeps one message per id too), so an agent's handler runs once for it."""
    from xmtp_core.content import default_registry
    from xmtp_core.engine import send_message_intent

    alice, bob, dm = await _dm_pair(make_runtime)
    content = default_registry().prepare("once").payload
    await alice.run_intent(dm, send_message_intent(content, "retried-key"))
    await alice.run_intent(dm, send_message_intent(content, "retried-key"))
    await alice.send(dm, "after")
    events = await bob.sync_group(dm)
    assert _texts(events) == ["once", "after"]


async def _position(runtime: Runtime, gid: bytes) -> tuple[int, int | None]:
    async with runtime.store.transaction() as s:
        cursor = await runtime.store.cursors.get(s, group_topic(gid))
        return cursor, await runtime.store.group_states.current_epoch(s, gid)


async def test_a_send_leaves_a_backlog_of_messages_to_the_stream_and_pulls_only_for_a_commit(
    make_runtime: Any,
) -> None:
    """A send under load must not decrypt the conversation's backlog inline (commands outlasted their callers'
    wait); only a commit on the node makes it pull first, so it still goes out at the newest epoch."""
    alice, bob = await make_runtime(), await make_runtime()
    gid = await alice.create_group([bob.keys.inbox_id], name="backlog")
    await bob.sync_welcomes()
    await bob.sync_group(gid)
    before = await _position(bob, gid)
    for i in range(5):
        await alice.send(gid, f"backlog {i}")
    await bob.send(gid, "while behind", wait=False)
    assert await _position(bob, gid) == before  # none of the five was handled by the send
    assert _texts(await bob.sync_group(gid)) == [f"backlog {i}" for i in range(5)]

    cursor, epoch = await _position(bob, gid)
    assert epoch is not None
    await alice.update_metadata(gid, {MetadataField.GROUP_NAME: "renamed"})
    await alice.send(gid, "after the commit")
    await bob.send(gid, "at the new epoch", wait=False)
    after_cursor, after_epoch = await _position(bob, gid)
    assert after_epoch == epoch + 1 and after_cursor > cursor
    assert _texts(await alice.sync_group(gid)) == ["at the new epoch"]
    texts = [alice.registry.decode_bytes(m.content).value for m in await alice.messages(gid)]
    assert "while behind" in texts


async def test_an_envelope_stored_before_the_ones_it_follows_waits_for_them(make_runtime: Any) -> None:
    """A NATS leader election can store a topic's later envelopes in SB_IN before earlier ones (publishes to the
    dead leader are lost, later ones land on the new one, the lost ones come again after them): the chaos
    cluster run lost 16-21 texts of 120 that way, refused as too old for the ratchet. With ``prev_id`` the late
    comer pulls what came between from the node first, so every text is handled once and in node order."""
    alice, bob, dm = await _dm_pair(make_runtime)
    for n in range(8):  # more than the ratchet's window of 5 out-of-order generations
        await alice.send(dm, f"text {n}")
    envelopes = [e async for e in bob.node.iter_group_messages(dm, cursor=await bob.sync._cursor(dm))]
    assert len(envelopes) == 8
    ids = [e.id for e in envelopes]
    prev = dict(zip(ids, [await bob.sync._cursor(dm), *ids[:-1]], strict=True))
    # The stream's order: the last two first, then the rest.
    order = envelopes[6:] + envelopes[:6]
    events: list[Any] = []
    for envelope in order:
        events.extend(await bob.inbound.handle_group_message(envelope, prev[envelope.id]))
    assert _texts(events) == [f"text {n}" for n in range(8)]
    assert not [e for e in events if isinstance(e, EnvelopeRejected)]
    assert await bob.sync_group(dm) == []


async def test_a_catch_up_pull_that_fails_for_good_still_handles_the_envelope(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pull for what an out-of-order envelope follows fails and cannot pass (the node refuses the query): the
    envelope is handled as it came, not refused as poison (it did nothing wrong)."""
    from xmtp_core.node.errors import NodeRejected

    alice, bob, dm = await _dm_pair(make_runtime)
    for n in range(2):
        await alice.send(dm, f"text {n}")
    envelopes = [e async for e in bob.node.iter_group_messages(dm, cursor=await bob.sync._cursor(dm))]

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise NodeRejected("QueryGroupMessages", "invalid argument")

    monkeypatch.setattr(bob.node, "iter_group_messages", refused)
    events = await bob.inbound.handle_group_message(envelopes[1], envelopes[0].id)  # the first is missing
    assert _texts(events) == ["text 1"]
    assert not [e for e in events if isinstance(e, EnvelopeRejected)]
