"""XMTP's size limits on what others send us: 250 member inboxes, a tree of at most 250 × 10 installations, and
1 MiB per envelope; refused with TOO_LARGE before the costly work (identity look-ups, tree validation)."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from enginekit import Node, Resolver, add, client, join, receive
from test_hostile_kit import FailingResolver, group_of_three
from xmtp_core.content.limits import MAX_MESSAGE_BYTES
from xmtp_core.engine import EnvelopeRejected, Rejected, RejectReason, joining, new_group, open_welcome, receiving
from xmtp_core.mls.group import Group
from xmtp_core.mls.proposals import Proposal
from xmtp_core.node.models import WelcomeMessage
from xmtp_core.xmtp_mls.constants import MAX_GROUP_SIZE
from xmtp_core.xmtp_mls.extensions import GroupMembership, parse_group_extensions


async def test_a_commit_naming_more_than_250_inboxes_is_refused_before_any_look_up(resolver: Resolver) -> None:
    node, admin, bob, _ = await group_of_three(resolver)
    assert admin.group is not None and bob.group is not None
    view = parse_group_extensions(admin.group.extensions)
    crowd = {os.urandom(32).hex(): 1 for _ in range(MAX_GROUP_SIZE - 2)}
    members = GroupMembership({**view.membership.members, **crowd})
    staged = Group.from_bytes(admin.group.to_bytes()).commit(
        [Proposal.group_context_extensions(replace(view, membership=members).to_extensions())], force_path=True
    )
    assert staged.message is not None
    watching = FailingResolver(resolver, {})
    envelope = node.publish(bob.group.group_id, staged.message.to_bytes(), is_commit=True)
    (event,) = await receive(bob, envelope, watching)
    assert isinstance(event, EnvelopeRejected) and event.reason is RejectReason.TOO_LARGE
    assert not set(crowd) & set(watching.asked)


async def test_an_envelope_over_1_mib_is_refused_unparsed(resolver: Resolver) -> None:
    node, _, bob, _ = await group_of_three(resolver)
    assert bob.group is not None
    envelope = node.publish(bob.group.group_id, b"\x00\x01" + bytes(MAX_MESSAGE_BYTES), is_commit=True)
    (event,) = await receive(bob, envelope, resolver)
    assert isinstance(event, EnvelopeRejected) and event.reason is RejectReason.TOO_LARGE


async def test_a_welcome_over_1_mib_is_refused_unopened(resolver: Resolver) -> None:
    bob = client(resolver)
    msg = WelcomeMessage(1, 0, bob.keys.installation_key, bytes(MAX_MESSAGE_BYTES + 1), b"", 2)
    with pytest.raises(Rejected) as info:
        open_welcome(msg, [bob.bundle])
    assert info.value.reason is RejectReason.TOO_LARGE


async def test_adds_beyond_the_leaf_limit_are_refused(resolver: Resolver, monkeypatch: pytest.MonkeyPatch) -> None:
    node, admin, bob, _ = await group_of_three(resolver)
    monkeypatch.setattr(receiving, "MAX_GROUP_LEAVES", 3)  # the real bound (2,500 leaves) costs minutes to build
    carol = client(resolver)
    (event,) = await receive(bob, add(node, admin, [carol]), resolver)
    assert isinstance(event, EnvelopeRejected) and event.reason is RejectReason.TOO_LARGE


async def test_a_welcome_tree_beyond_the_leaf_limit_is_refused(
    resolver: Resolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = Node()
    alice, bob, carol = client(resolver), client(resolver), client(resolver)
    alice.group = new_group(alice.keys, 1)
    add(node, alice, [bob, carol])
    monkeypatch.setattr(joining, "MAX_GROUP_LEAVES", 2)
    with pytest.raises(Rejected) as info:
        await join(node, bob, resolver)
    assert info.value.reason is RejectReason.TOO_LARGE
