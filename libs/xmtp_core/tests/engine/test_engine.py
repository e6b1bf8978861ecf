"""Engine without network: two or three Python installations talk through in-memory envelopes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from enginekit import Node, Resolver
from enginekit import add as _add
from enginekit import client as _client
from enginekit import commit as _commit
from enginekit import join as _join
from enginekit import receive as _receive
from enginekit import send as _send
from xmtp_core.engine import (
    AdminAction,
    ConversationKind,
    EnvelopeRejected,
    GroupUpdatedEvent,
    IntentPayload,
    MessageReceived,
    OwnEcho,
    Rejected,
    RejectReason,
    build_commit,
    join_welcome,
    key_update_intent,
    may_move_epoch,
    new_dm,
    new_group,
    open_welcome,
    remove_members_intent,
    should_rotate,
    update_admins_intent,
    update_metadata_intent,
    update_permissions_intent,
)
from xmtp_core.mls.group import Group
from xmtp_core.mls.proposals import Proposal
from xmtp_core.node.models import GroupMessage, WelcomeKind
from xmtp_core.xmtp_mls.extensions import parse_group_extensions
from xmtp_core.xmtp_mls.policies import MetadataField, admin_only_policy
from xmtp_core.xmtp_mls.welcome_wrapper import UnwrappedWelcome


async def test_dm_join_and_text_both_ways(resolver: Resolver) -> None:
    node = Node()
    alice, bob = _client(resolver), _client(resolver)
    alice.group = new_dm(alice.keys, 1, bob.keys.inbox_id)
    _add(node, alice, [bob])
    (welcome,) = node.welcomes_for(bob.keys.installation_key)
    assert welcome.kind is WelcomeKind.V1 and welcome.wrapper_algorithm == 2  # X-Wing
    opened = open_welcome(welcome, [bob.bundle])
    assert isinstance(opened, UnwrappedWelcome)
    joined = await join_welcome(welcome, opened, [bob.bundle], bob.keys, resolver)
    bob.group = joined.group
    info = joined.event.conversation
    assert info.kind is ConversationKind.DM and info.dm_peer_inbox_id == alice.keys.inbox_id
    assert joined.event.added_by_inbox_id == alice.keys.inbox_id
    assert joined.event.message_cursor == node.messages[-1].id

    events = await _receive(bob, _send(node, alice, "hi bob"), resolver)
    assert isinstance(events[0], MessageReceived)
    assert events[0].content.value == "hi bob" and events[0].sender_inbox_id == alice.keys.inbox_id
    reply = _send(node, bob, "hi alice")
    (got,) = await _receive(alice, reply, resolver)
    assert isinstance(got, MessageReceived) and got.content.value == "hi alice"
    # Our own envelope coming back is recognised, not decrypted.
    (echo,) = await _receive(bob, reply, resolver)
    assert isinstance(echo, OwnEcho) and not echo.is_commit


async def test_replayed_envelope_is_a_duplicate(resolver: Resolver) -> None:
    node = Node()
    alice, bob = _client(resolver), _client(resolver)
    alice.group = new_dm(alice.keys, 1, bob.keys.inbox_id)
    _add(node, alice, [bob])
    await _join(node, bob, resolver)
    envelope = _send(node, alice, "once")
    assert isinstance((await _receive(bob, envelope, resolver))[0], MessageReceived)
    (again,) = await _receive(bob, envelope, resolver)
    assert isinstance(again, EnvelopeRejected) and again.reason is RejectReason.DUPLICATE


async def test_group_with_pointers_rename_remove_and_admin(resolver: Resolver) -> None:
    node = Node()
    owner, b, c, d = (_client(resolver) for _ in range(4))
    owner.group = new_group(owner.keys, 1, attributes={MetadataField.GROUP_NAME: "first"})
    _add(node, owner, [b, c, d])
    assert {w.kind for w in node.welcomes} == {WelcomeKind.V1, WelcomeKind.POINTER}  # pointee + 3 pointers
    for member in (b, c, d):
        await _join(node, member, resolver)

    rename = _commit(node, owner, update_metadata_intent({MetadataField.GROUP_NAME: "second"}))
    for member in (b, c, d):
        (event,) = await _receive(member, rename, resolver)
        assert isinstance(event, GroupUpdatedEvent)
        change = event.update.metadata_field_changes[0]
        assert (change.old_value, change.new_value) == ("first", "second")
        assert event.conversation.name == "second"

    promote = _commit(node, owner, update_admins_intent(AdminAction.ADD_ADMIN, b.keys.inbox_id))
    for member in (b, c, d):
        (event,) = await _receive(member, promote, resolver)
        assert isinstance(event, GroupUpdatedEvent) and event.update.added_admin_inboxes == (b.keys.inbox_id,)

    removal = _commit(node, owner, remove_members_intent([d.keys.inbox_id]))
    assert d.group is not None
    d_before_removal = Group.from_bytes(d.group.to_bytes())
    (gone,) = await _receive(d, removal, resolver)
    assert isinstance(gone, GroupUpdatedEvent) and gone.removed_us
    for member in (b, c):
        (event,) = await _receive(member, removal, resolver)
        assert isinstance(event, GroupUpdatedEvent) and event.update.removed_inboxes == (d.keys.inbox_id,)
    # The removed member can no longer read the group.
    after = _send(node, b, "without d")
    (blocked,) = await _receive(d, after, resolver)
    assert isinstance(blocked, EnvelopeRejected) and blocked.reason is RejectReason.GROUP_INACTIVE
    (read,) = await _receive(c, after, resolver)
    assert isinstance(read, MessageReceived) and read.content.value == "without d"
    # d, still holding the epoch it was removed in, writes after its removal: refused.
    d.group = d_before_removal
    (late,) = await _receive(c, _send(node, d, "still here?"), resolver)
    assert isinstance(late, EnvelopeRejected) and late.reason is RejectReason.SENDER_NOT_A_MEMBER


async def test_commit_adding_an_installation_outside_the_identity_state_is_rejected(resolver: Resolver) -> None:
    node = Node()
    alice, bob, mallory = _client(resolver), _client(resolver), _client(resolver)
    alice.group = new_group(alice.keys, 1)
    _add(node, alice, [bob])
    await _join(node, bob, resolver)
    resolver.installations[mallory.keys.inbox_id] = set()  # mallory's installation is not in her inbox
    bad = _add(node, alice, [mallory])
    epoch = bob.group.epoch if bob.group else -1
    (event,) = await _receive(bob, bad, resolver)
    assert isinstance(event, EnvelopeRejected) and event.reason is RejectReason.INSTALLATION_DIFF
    assert bob.group is not None and bob.group.epoch == epoch


async def test_tampered_commit_is_rejected_and_the_conversation_continues(resolver: Resolver) -> None:
    node = Node()
    alice, bob = _client(resolver), _client(resolver)
    alice.group = new_group(alice.keys, 1)
    _add(node, alice, [bob])
    await _join(node, bob, resolver)
    assert alice.group is not None
    built = build_commit(alice.group, key_update_intent(), alice.keys)
    tampered = bytearray(built.data)
    tampered[-5] ^= 0x01
    bad = node.publish(alice.group.group_id, bytes(tampered), is_commit=True)
    (event,) = await _receive(bob, bad, resolver)
    assert isinstance(event, EnvelopeRejected) and event.reason is RejectReason.INVALID_COMMIT
    good = node.publish(alice.group.group_id, built.data, is_commit=True)
    assert built.post_state is not None
    alice.group = Group.from_bytes(built.post_state)
    (update,) = await _receive(bob, good, resolver)
    assert isinstance(update, GroupUpdatedEvent)
    (msg,) = await _receive(bob, _send(node, alice, "still here"), resolver)
    assert isinstance(msg, MessageReceived) and msg.content.value == "still here"


async def test_policy_denies_a_rename_by_a_plain_member(resolver: Resolver) -> None:
    node = Node()
    alice, bob = _client(resolver), _client(resolver)
    alice.group = new_group(alice.keys, 1, policy=admin_only_policy())
    _add(node, alice, [bob])
    await _join(node, bob, resolver)
    assert bob.group is not None
    with pytest.raises(Rejected) as info:
        build_commit(bob.group, update_metadata_intent({MetadataField.GROUP_NAME: "mine"}), bob.keys)
    assert info.value.reason is RejectReason.POLICY_DENIED


async def test_welcome_for_someone_else_is_rejected(resolver: Resolver) -> None:
    node = Node()
    alice, bob, carol = _client(resolver), _client(resolver), _client(resolver)
    alice.group = new_dm(alice.keys, 1, bob.keys.inbox_id)
    _add(node, alice, [bob])
    (welcome,) = node.welcomes_for(bob.keys.installation_key)
    with pytest.raises(Rejected) as info:
        open_welcome(welcome, [carol.bundle])
    assert info.value.reason is RejectReason.WELCOME_NOT_FOR_US


async def test_old_epoch_window_and_future_epochs(resolver: Resolver) -> None:
    node = Node()
    alice, bob = _client(resolver), _client(resolver)
    alice.group = new_group(alice.keys, 1)
    _add(node, alice, [bob])
    await _join(node, bob, resolver)
    late = _send(node, bob, "sent before the commits")
    commits = [_commit(node, alice, key_update_intent()) for _ in range(4)]
    # Alice is 4 epochs ahead of the late message: outside the window of 3 past epochs.
    (event,) = await _receive(alice, late, resolver)
    assert isinstance(event, EnvelopeRejected) and event.reason is RejectReason.EPOCH_TOO_OLD
    (future,) = await _receive(bob, commits[1], resolver)
    assert isinstance(future, EnvelopeRejected) and future.reason is RejectReason.EPOCH_IN_FUTURE


def test_key_package_rotation_rule() -> None:
    assert should_rotate(expires_ns=10**20, now_ns=0, used_by_welcome=True)
    assert not should_rotate(expires_ns=10**20, now_ns=0, used_by_welcome=False)
    assert should_rotate(expires_ns=10**12, now_ns=10**12, used_by_welcome=False)


def test_intent_payload_round_trip() -> None:
    payload = update_metadata_intent({MetadataField.DESCRIPTION: "d"})
    assert IntentPayload.from_bytes(payload.to_bytes()) == payload


async def test_permission_update_then_a_member_rename_is_refused_by_receivers(resolver: Resolver) -> None:
    node = Node()
    alice, bob, carol = _client(resolver), _client(resolver), _client(resolver)
    alice.group = new_group(alice.keys, 1)
    _add(node, alice, [bob, carol])
    await _join(node, bob, resolver)
    await _join(node, carol, resolver)
    tighten = _commit(node, alice, update_permissions_intent(admin_only_policy()))
    for member in (bob, carol):
        (event,) = await _receive(member, tighten, resolver)
        assert isinstance(event, GroupUpdatedEvent)
    # Bob forges a rename past his own check: carol refuses it and stays on her epoch.
    assert bob.group is not None and carol.group is not None
    with pytest.raises(Rejected):
        build_commit(bob.group, update_metadata_intent({MetadataField.GROUP_NAME: "bob's"}), bob.keys)
    view = parse_group_extensions(bob.group.extensions)
    renamed = replace(view, mutable=replace(view.mutable, attributes={**view.mutable.attributes, "group_name": "x"}))
    forged = Group.from_bytes(bob.group.to_bytes()).commit(
        [Proposal.group_context_extensions(renamed.to_extensions())], force_path=True
    )
    assert forged.message is not None
    epoch = carol.group.epoch
    (refused,) = await _receive(
        carol, node.publish(carol.group.group_id, forged.message.to_bytes(), is_commit=True), resolver
    )
    assert isinstance(refused, EnvelopeRejected) and refused.reason is RejectReason.POLICY_DENIED
    assert carol.group.epoch == epoch


async def test_x25519_wrapped_welcome_for_a_key_package_without_xwing(resolver: Resolver) -> None:
    from xmtp_core.xmtp_mls.key_package import build_key_package

    node = Node()
    alice, bob = _client(resolver), _client(resolver)
    bob.bundle = build_key_package(bob.keys.inbox_id, bob.keys.private_seed, post_quantum=False)
    alice.group = new_dm(alice.keys, 1, bob.keys.inbox_id)
    _add(node, alice, [bob])
    (welcome,) = node.welcomes_for(bob.keys.installation_key)
    assert welcome.wrapper_algorithm == 1  # CURVE25519: the key package asked for no X-Wing
    await _join(node, bob, resolver)
    (got,) = await _receive(bob, _send(node, alice, "classic"), resolver)
    assert isinstance(got, MessageReceived) and got.content.value == "classic"


async def test_may_move_epoch_reads_the_clear_header(resolver: Resolver) -> None:
    """What a send checks before encrypting without a pull: only commits from our epoch on, messages from a later
    epoch and unreadable bytes may have moved the group."""
    node = Node()
    alice, bob = _client(resolver), _client(resolver)
    alice.group = new_group(alice.keys, 1)
    _add(node, alice, [bob])
    at = alice.group.epoch
    text = _send(node, alice, "at this epoch")
    assert not may_move_epoch(text, at) and may_move_epoch(text, at - 1)
    rename = _commit(node, alice, update_metadata_intent({MetadataField.GROUP_NAME: "moved"}))
    assert may_move_epoch(rename, at) and not may_move_epoch(rename, at + 1)  # a stale commit moves nothing
    flagged = replace(text, is_commit=True)
    assert may_move_epoch(flagged, at) and not may_move_epoch(flagged, at + 1)
    assert may_move_epoch(GroupMessage(99, 0, text.group_id, b"\x00junk", b"", True, False), at + 5)
