"""Key-package and leaf lifetimes of what others send us, checked at the node's timestamp; and no private key
in the repr of any engine or xmtp_mls value that holds one."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from enginekit import Node, Resolver, add, client, commit, receive
from test_hostile_kit import group_of_three
from xmtp_core.engine import (
    CommitInputs,
    EnvelopeRejected,
    GroupUpdatedEvent,
    InstallationKeys,
    Rejected,
    RejectReason,
    add_members_intent,
    build_commit,
    creating,
    join_welcome,
    key_update_intent,
    new_group,
    open_welcome,
)
from xmtp_core.xmtp_mls.constants import LIFETIME_SECONDS
from xmtp_core.xmtp_mls.key_package import build_key_package, parse_key_package
from xmtp_core.xmtp_mls.welcome_wrapper import UnwrappedWelcome, encrypt_pointee

LATER_NS = (int(time.time()) + LIFETIME_SECONDS + 86400) * 10**9  # after every fresh key package has expired


async def test_an_add_of_an_expired_key_package_is_refused(resolver: Resolver) -> None:
    node, admin, bob, _ = await group_of_three(resolver)
    assert bob.group is not None
    envelope = replace(add(node, admin, [client(resolver)]), created_ns=LATER_NS)
    epoch = bob.group.epoch
    (event,) = await receive(bob, envelope, resolver)
    assert isinstance(event, EnvelopeRejected) and event.reason is RejectReason.LIFETIME_INVALID
    assert bob.group.epoch == epoch


async def test_a_key_update_is_judged_at_the_node_timestamp_not_at_its_leaves(resolver: Resolver) -> None:
    """A commit without Adds carries no key package: a late sync still accepts it."""
    node, admin, bob, _ = await group_of_three(resolver)
    assert admin.group is not None
    built = build_commit(admin.group, key_update_intent(), admin.keys)
    envelope = replace(node.publish(admin.group.group_id, built.data, is_commit=True), created_ns=LATER_NS)
    (event,) = await receive(bob, envelope, resolver)
    assert isinstance(event, GroupUpdatedEvent)


async def test_a_welcome_whose_tree_holds_an_expired_leaf_is_refused_only_when_asked(
    resolver: Resolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender adds a key package that expired long ago (its own clock is the sender's choice). Like libxmtp,
    the join does not judge the tree's lifetimes by default (one idle member would lock every joiner out);
    with an explicit ``now`` it refuses."""
    node = Node()
    alice, bob = client(resolver), client(resolver)
    alice.group = new_group(alice.keys, 1)
    past = int(time.time()) - LIFETIME_SECONDS - 86400
    bob.bundle = build_key_package(bob.keys.inbox_id, bob.keys.private_seed, now=past)
    inputs = CommitInputs({bob.keys.inbox_id: 1}, [parse_key_package(bob.bundle.tls_bytes, now=past)])
    with monkeypatch.context() as sender_clock:
        sender_clock.setattr(creating, "parse_key_package", lambda data: parse_key_package(data, now=past))
        commit(node, alice, add_members_intent([bob.keys.inbox_id]), inputs)
    (msg,) = node.welcomes_for(bob.keys.installation_key)
    opened = open_welcome(msg, [bob.bundle])
    assert isinstance(opened, UnwrappedWelcome)
    with pytest.raises(Rejected) as info:
        await join_welcome(msg, opened, [bob.bundle], bob.keys, resolver, now=int(time.time()))
    assert info.value.reason is RejectReason.LIFETIME_INVALID
    joined = await join_welcome(msg, opened, [bob.bundle], bob.keys, resolver)
    assert joined.group.group_id == alice.group.group_id


def test_private_keys_stay_out_of_reprs() -> None:
    keys = InstallationKeys.generate("ab" * 32)
    bundle = build_key_package(keys.inbox_id, keys.private_seed)
    pointer = encrypt_pointee(b"welcome", b"").pointer
    group = new_group(keys, 1)
    built = build_commit(group, key_update_intent(), keys)
    assert built.post_state is not None
    for value, secrets in [
        (keys, [keys.private_seed]),
        (bundle, [bundle.init_private_key, bundle.encryption_private_key, bundle.xwing_seed]),
        (pointer, [pointer.encryption_key]),
        (built, [built.post_state]),
    ]:
        text = repr(value)
        for secret in secrets:
            assert secret is not None
            assert repr(secret) not in text and secret.hex() not in text, type(value).__name__
