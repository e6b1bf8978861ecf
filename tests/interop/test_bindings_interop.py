"""libxmtp 1.10.0 (PyPI `xmtp-bindings` 0.1.8, what Agent SDK 2.3.0 users run) against our runtime via devnode.

The conversation tests are parametrised over both peers (1.9.1 through node-sdk, 1.10.0 through the bindings):
they drive them through one protocol, so a difference between the versions shows up as one failing case.
(a) the peer opens a DM with our installation and we answer; we open one with it and it answers;
(b) the peer creates a group with us in it; we create one with it in it: messages both ways, a rename by each
    side seen by the other.
"""

from __future__ import annotations

import inspect
import pathlib
import uuid
from typing import Any

import pytest
import test_devnode_interop as devnode_tests
import test_engine_interop as engine_tests
import test_xmtp_mls_profile_interop as profile_tests
from peer import BINDINGS_VERSION, LIBXMTP_VERSIONS, LibxmtpPeer, PeerError
from test_engine_interop import _group_of, runtime, store_url  # noqa: F401  (fixtures: a Runtime and its db)
from test_peer_harness import _closed_port
from xmtp_core.content import Markdown, Reaction, Reply
from xmtp_core.content.codecs.text import TextCodec
from xmtp_core.engine import ConversationJoined, ConversationKind, GroupUpdatedEvent, MessageReceived, RejectReason
from xmtp_core.node import WelcomeKind
from xmtp_core.runtime import Runtime
from xmtp_core.xmtp_mls.key_package import parse_key_package

pytestmark = [pytest.mark.interop, pytest.mark.timeout(600)]

both_peers = pytest.mark.parametrize("peer", LIBXMTP_VERSIONS, indirect=True)


def _received(events: list[Any]) -> list[MessageReceived]:
    return [e for e in events if isinstance(e, MessageReceived)]


def _renames(events: list[Any]) -> list[tuple[str | None, str | None, str]]:
    return [
        (c.old_value, c.new_value, e.update.initiated_by_inbox_id)
        for e in events
        if isinstance(e, GroupUpdatedEvent)
        for c in e.update.metadata_field_changes
        if c.field_name == "group_name"
    ]


def _texts_from(messages: list[dict[str, Any]], inbox_id: str) -> list[Any]:
    return [
        m["content"]
        for m in messages
        if m["senderInboxId"] == inbox_id and m["kind"] == "application" and m["contentType"] == "xmtp.org/text:1.0"
    ]


async def test_bindings_peer_runs_libxmtp_1_10(peer_1_10: LibxmtpPeer) -> None:
    info = await peer_1_10.request("ping")
    assert (info["sdk"], info["sdkVersion"], info["bindingsVersion"]) == ("xmtp-bindings", "0.1.8", BINDINGS_VERSION)
    with pytest.raises(PeerError, match='no client named "ghost"'):
        await peer_1_10.sync("ghost")
    with pytest.raises(PeerError, match='unknown op "teleport"'):
        await peer_1_10.request("teleport")
    with pytest.raises(PeerError, match="privateKey must be 32 bytes"):
        await peer_1_10.create("short", "http://127.0.0.1:1", private_key="0x" + "ab" * 31)
    # Lines that are not requests are logged and dropped; the peer goes on answering.
    proc = peer_1_10._proc
    assert proc is not None and proc.stdin is not None
    proc.stdin.write(b"not json\n[1, 2]\n\xff\xfe\n")
    assert (await peer_1_10.request("ping"))["sdkVersion"] == "0.1.8"
    assert "unparseable request line" in peer_1_10.stderr_tail


def test_a_missing_bindings_venv_or_unknown_version_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    import peer as driver

    monkeypatch.setattr(driver, "BINDINGS_PYTHON", tmp_path / "python")
    assert "run `make interop-bindings` first" in str(driver.peer_missing_message(BINDINGS_VERSION))
    assert "no interop peer for libxmtp '2.0'" in str(driver.peer_missing_message("2.0"))


async def test_bindings_peer_reports_the_libxmtp_error_of_a_closed_port(peer_1_10: LibxmtpPeer) -> None:
    with pytest.raises(PeerError) as caught:
        await peer_1_10.create("nobody", f"http://127.0.0.1:{_closed_port()}")
    # connect_to_backend is lazy: the first call, the inbox look-up, fails, with the same text as in 1.9.1.
    assert "IdentityApi/GetInboxIds" in caught.value.error
    assert "tcp connect error" in caught.value.error


@both_peers
async def test_peer_opens_a_dm_and_we_answer(peer: LibxmtpPeer, devnode_url: str, runtime: Runtime) -> None:  # noqa: F811
    alice = await peer.create("alice", devnode_url)
    me = runtime.keys.inbox_id
    (address,) = (await peer.inbox_state("alice", me))["identifiers"]
    assert await peer.can_message("alice", [address, "0x" + "11" * 20]) == {address: True, "0x" + "11" * 20: False}
    assert await peer.inbox_id_by_address("alice", address) == me
    dm = await peer.create_dm("alice", me)
    assert dm["type"] == "dm" and dm["peerInboxId"] == me and dm["memberInboxIds"] == sorted([me, alice.inbox_id])

    (joined,) = [e for e in await runtime.sync_welcomes() if isinstance(e, ConversationJoined)]
    assert joined.conversation.group_id.hex() == dm["id"] and joined.conversation.kind is ConversationKind.DM
    assert joined.conversation.dm_peer_inbox_id == alice.inbox_id
    gid = joined.conversation.group_id

    text = f"hello from libxmtp {peer.version} {uuid.uuid4().hex[:6]}"
    first = await peer.send_text("alice", dm["id"], text)
    await peer.reply("alice", dm["id"], first, "a reply", reference_inbox_id=alice.inbox_id)
    await peer.react("alice", dm["id"], first, "👍", reference_inbox_id=alice.inbox_id)
    received = _received(await runtime.sync_group(gid))
    assert len(received) == 3 and received[0].message_id.hex() == first
    values = [m.content.value for m in received]
    assert values[0] == text and all(m.sender_inbox_id == alice.inbox_id for m in received)
    assert values[1] == Reply(first, TextCodec().encode("a reply"), alice.inbox_id)
    assert values[2] == Reaction(first, "👍", reference_inbox_id=alice.inbox_id)

    await peer.stream_start("alice")
    sent = await runtime.send(gid, "hello from python")
    mark = await runtime.send(gid, Markdown("**python** markdown"))
    streamed, _ = await peer.stream_until("alice", lambda m: m["id"] == mark.message_id.hex())
    assert streamed["contentType"] == "xmtp.org/markdown:1.0" and streamed["content"] == "**python** markdown"
    theirs = {m["id"]: m for m in await peer.messages("alice", dm["id"])}
    assert theirs[sent.message_id.hex()]["content"] == "hello from python"
    assert theirs[sent.message_id.hex()]["senderInboxId"] == me
    assert theirs[mark.message_id.hex()]["contentType"] == "xmtp.org/markdown:1.0"
    assert [r["content"]["content"] for r in theirs[first]["reactions"]] == ["👍"]
    assert runtime.rejections == []


@both_peers
async def test_we_open_a_dm_and_the_peer_answers(peer: LibxmtpPeer, devnode_url: str, runtime: Runtime) -> None:  # noqa: F811
    bo = await peer.create("bo", devnode_url)
    me = runtime.keys.inbox_id
    dm_id = await runtime.create_dm(bo.inbox_id)
    (found,) = [c for c in await peer.list_conversations("bo") if c["id"] == dm_id.hex()]
    assert found["type"] == "dm" and found["peerInboxId"] == me and found["creatorInboxId"] == me

    sent = await runtime.send(dm_id, "hi from python")
    assert _texts_from(await peer.messages("bo", dm_id.hex()), me) == ["hi from python"]
    await peer.send_text("bo", dm_id.hex(), "hi from libxmtp")
    await peer.reply("bo", dm_id.hex(), sent.message_id.hex(), "replying to python", reference_inbox_id=me)
    values = [m.content.value for m in _received(await runtime.sync_group(dm_id))]
    assert values == ["hi from libxmtp", Reply(sent.message_id.hex(), TextCodec().encode("replying to python"), me)]
    assert runtime.rejections == []


@both_peers
async def test_peer_group_with_us_messages_and_renames(peer: LibxmtpPeer, devnode_url: str, runtime: Runtime) -> None:  # noqa: F811
    bo, cy = [await peer.create(n, devnode_url) for n in ("bo", "cy")]
    me = runtime.keys.inbox_id
    created = await peer.create_group("bo", [me, cy.inbox_id], f"made by {peer.version}")
    assert created["type"] == "group" and created["memberInboxIds"] == sorted([me, bo.inbox_id, cy.inbox_id])
    (joined,) = [e for e in await runtime.sync_welcomes() if isinstance(e, ConversationJoined)]
    gid = joined.conversation.group_id
    assert gid.hex() == created["id"] and joined.conversation.name == f"made by {peer.version}"
    assert joined.conversation.kind is ConversationKind.GROUP and joined.added_by_inbox_id == bo.inbox_id

    await peer.send_text("bo", created["id"], "hello group")
    await peer.send_text("cy", created["id"], "hello from cy")
    assert sorted(m.content.value for m in _received(await runtime.sync_group(gid))) == ["hello from cy", "hello group"]
    await runtime.send(gid, "python here")
    for name in ("bo", "cy"):
        assert _texts_from(await peer.messages(name, created["id"]), me) == ["python here"]

    # Their rename reaches us; ours (after bo makes us admin) reaches both of them.
    await peer.update_name("bo", created["id"], "renamed by libxmtp")
    assert _renames(await runtime.sync_group(gid)) == [(f"made by {peer.version}", "renamed by libxmtp", bo.inbox_id)]
    assert (await runtime.conversation(gid)).name == "renamed by libxmtp"
    await peer.add_admin("bo", created["id"], me)
    await runtime.sync_group(gid)
    await runtime.update_name(gid, "renamed by python")
    for name in ("bo", "cy"):
        assert (await peer.group_info(name, created["id"]))["name"] == "renamed by python"
    assert runtime.rejections == []


@both_peers
async def test_our_group_with_the_peer_messages_both_ways_and_renames(
    peer: LibxmtpPeer,
    devnode_url: str,
    runtime: Runtime,  # noqa: F811
) -> None:
    bo, cy = [await peer.create(n, devnode_url) for n in ("bo", "cy")]
    me = runtime.keys.inbox_id
    gid = await runtime.create_group([bo.inbox_id, cy.inbox_id], name="ours")
    # Neither has synced: the peer finds the group from our Welcome on its first use of it.
    await peer.send_text("cy", gid.hex(), "hello python")
    await peer.send_text("bo", gid.hex(), "hello from bo")
    received = _received(await runtime.sync_group(gid))
    assert sorted((m.sender_inbox_id, m.content.value) for m in received) == sorted(
        [(cy.inbox_id, "hello python"), (bo.inbox_id, "hello from bo")]
    )
    sent = await runtime.send(gid, "hello libxmtp")
    for name in ("bo", "cy"):
        theirs = {m["id"]: m for m in await peer.messages(name, gid.hex())}
        assert theirs[sent.message_id.hex()]["content"] == "hello libxmtp"

    # A plain member's rename reaches us; ours reaches both.
    await peer.update_name("cy", gid.hex(), "cy's name")
    assert _renames(await runtime.sync_group(gid)) == [("ours", "cy's name", cy.inbox_id)]
    await runtime.update_name(gid, "ours again")
    for name in ("bo", "cy"):
        info = await peer.describe_conversation(name, gid.hex())
        assert info["name"] == "ours again" and info["memberInboxIds"] == sorted([me, bo.inbox_id, cy.inbox_id])
    # bo and cy each make a key-update commit on joining, on the same epoch: the later one is stale for everyone.
    assert {r.reason for r in runtime.rejections} <= {RejectReason.STALE_COMMIT}


async def test_libxmtp_1_10_markdown_and_dm_by_address(
    peer_1_10: LibxmtpPeer,
    devnode_url: str,
    runtime: Runtime,  # noqa: F811
) -> None:
    """What only the bindings peer offers: libxmtp's own markdown codec, and a DM opened by wallet address."""
    await peer_1_10.create("eve", devnode_url)
    (address,) = (await peer_1_10.inbox_state("eve", runtime.keys.inbox_id))["identifiers"]
    dm = await peer_1_10.create_dm_by_address("eve", address)
    assert dm["peerInboxId"] == runtime.keys.inbox_id
    await runtime.sync_welcomes()
    gid = bytes.fromhex(dm["id"])
    await peer_1_10.send_markdown("eve", dm["id"], "# title\n*libxmtp* markdown")
    (got,) = _received(await runtime.sync_group(gid))
    assert got.content.value == Markdown("# title\n*libxmtp* markdown")


# What each libxmtp puts on the wire, read back from the node; 1.10.0 did exactly what 1.9.1 does here.
WIRE = {
    "key_package_bytes": 1659,
    "cipher_suite": 3,
    "wrapper_algorithm": 2,  # X-Wing ML-KEM-768 draft 6
    "wrapper_public_key_bytes": 1216,
    "pointee_aead_types": (3,),
    "last_resort": True,
    "lifetime_seconds": 84 * 86400 + 3600,
    "leaf_extensions": (10, 1, 0xFF02, 0xFF00, 0xFF01, 0xFF03, 0xFF04, 0xF000),
    "proposals": (7,),
    "key_package_extensions": (0x000A, 0xFF04, 0xFF03),
    "welcome_kind": WelcomeKind.V1,
    "welcome_wrapper_algorithm": 2,
    "welcome_has_metadata": True,
    "dm_context_extensions": (0xF000, 0xFF00, 0xFF02, 0x0003, 0xFF01),
    "dm_messages": [(True, False), (False, True)],  # (is_commit, should_push): the DM's commit, then a text
    "sender_hmac_bytes": {32},
    # Joining, reading and syncing publish nothing; the first send is preceded by a key-update commit.
    "messages_after_joining_our_group": 0,
    "first_send_in_our_group": [True, False],
}


@both_peers
async def test_what_libxmtp_puts_on_the_wire(peer: LibxmtpPeer, devnode_url: str, runtime: Runtime) -> None:  # noqa: F811
    node = runtime.node
    bo, cy = [await peer.create(n, devnode_url) for n in ("bo", "cy")]
    (raw,) = await node.fetch_key_packages([bytes.fromhex(bo.installation_id)])
    assert raw is not None
    kp = parse_key_package(raw)
    caps = kp.key_package.leaf_node.capabilities
    dm = await peer.create_dm("bo", runtime.keys.inbox_id)
    (welcome,) = (await node.query_welcome_messages(runtime.keys.installation_key)).items
    await runtime.sync_welcomes()
    gid = bytes.fromhex(dm["id"])
    await peer.send_text("bo", dm["id"], "on the wire")
    messages = (await node.query_group_messages(gid)).items
    ours = await runtime.create_group([cy.inbox_id], name="wire")
    before = len((await node.query_group_messages(ours)).items)
    await peer.messages("cy", ours.hex())
    await peer.sync_all("cy")
    after_join = len((await node.query_group_messages(ours)).items) - before
    await peer.send_text("cy", ours.hex(), "first words")
    seen = {
        "key_package_bytes": len(raw),
        "cipher_suite": kp.key_package.cipher_suite,
        "wrapper_algorithm": int(kp.wrapper.algorithm),
        "wrapper_public_key_bytes": len(kp.wrapper.public_key),
        "pointee_aead_types": kp.pointee_aead_types,
        "last_resort": kp.last_resort,
        "lifetime_seconds": kp.not_after - kp.not_before,
        "leaf_extensions": caps.extensions,
        "proposals": caps.proposals,
        "key_package_extensions": tuple(e.extension_type for e in kp.key_package.extensions),
        "welcome_kind": welcome.kind,
        "welcome_wrapper_algorithm": welcome.wrapper_algorithm,
        "welcome_has_metadata": bool(welcome.welcome_metadata),
        "dm_context_extensions": tuple(e.extension_type for e in (await _group_of(runtime, gid)).extensions),
        "dm_messages": [(m.is_commit, m.should_push) for m in messages],
        "sender_hmac_bytes": {len(m.sender_hmac) for m in messages},
        "messages_after_joining_our_group": after_join,
        "first_send_in_our_group": [m.is_commit for m in (await node.query_group_messages(ours)).items[before:]],
    }
    assert seen == WIRE


# The other interop modules' tests, run once more against libxmtp 1.10 (their own modules run them against
# 1.9.1). test_runtime_kill.py is left out: it kills child processes and is about our runtime, not the peer.
def _tests_of(module: Any) -> list[str]:
    return sorted(n for n in vars(module) if n.startswith("test_") and inspect.iscoroutinefunction(vars(module)[n]))


async def _rerun(module: Any, test: str, fixtures: dict[str, Any]) -> None:
    fn = getattr(module, test)
    await fn(**{name: fixtures[name] for name in inspect.signature(fn).parameters})


@pytest.mark.parametrize("test", _tests_of(engine_tests))
async def test_engine_interop_against_libxmtp_1_10(
    test: str,
    peer_1_10: LibxmtpPeer,
    devnode_url: str,
    database_url: str,
    runtime: Runtime,  # noqa: F811
    store_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    new_database: Any,
) -> None:
    fixtures = {"devnode_url": devnode_url, "database_url": database_url, "store_url": store_url}
    fixtures |= {"peer": peer_1_10, "runtime": runtime, "monkeypatch": monkeypatch, "new_database": new_database}
    await _rerun(engine_tests, test, fixtures)


@pytest.mark.parametrize(
    "module, test",
    [pytest.param(m, t, id=f"{m.__name__}.{t}") for m in (devnode_tests, profile_tests) for t in _tests_of(m)],
)
async def test_devnode_and_profile_interop_against_libxmtp_1_10(
    module: Any, test: str, peer_1_10: LibxmtpPeer, devnode_url: str, database_url: str
) -> None:
    await _rerun(module, test, {"peer": peer_1_10, "devnode_url": devnode_url, "database_url": database_url})
