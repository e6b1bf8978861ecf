"""Hostile members and senders: every envelope built here is signed with a real member's valid keys but carries
contents XMTP forbids; the engine must refuse each with a typed reason and leave the group where it was."""

from __future__ import annotations

from dataclasses import replace

import pytest
from enginekit import Client, Node, Resolver, add, client, join, receive, send
from xmtp_core.engine import EnvelopeRejected, MessageReceived, RejectReason, new_group
from xmtp_core.mls.group import Group
from xmtp_core.mls.leaf_node import SOURCE_UPDATE
from xmtp_core.mls.proposals import Proposal
from xmtp_core.xmtp_mls.commit_checks import check_changed_installations, check_credentials_unchanged, leaf_changes
from xmtp_core.xmtp_mls.credential import build_credential
from xmtp_core.xmtp_mls.errors import CredentialChangeError, MembershipError
from xmtp_core.xmtp_mls.extensions import ConversationType, GroupExtensions, GroupMetadata, parse_group_extensions


async def _group_of_three(resolver: Resolver) -> tuple[Node, Client, Client, Client]:
    """admin creates a group and adds bob and mallory; everyone joined, mallory a plain member."""
    node = Node()
    admin, bob, mallory = client(resolver), client(resolver), client(resolver)
    admin.group = new_group(admin.keys, 1)
    add(node, admin, [bob, mallory])
    for member in (bob, mallory):
        await join(node, member, resolver)
    return node, admin, bob, mallory


def _forge_leaf_credential(group: Group, inbox_id: str) -> Group:
    """A copy of ``group`` whose own leaf claims ``inbox_id``: the next UpdatePath carries that credential."""
    forged = Group.from_bytes(group.to_bytes())
    own = forged.own_leaf_index
    leaf = forged.tree.member_leaf(own)
    forged.epoch_state.tree.set_leaf(own, replace(leaf, credential=build_credential(inbox_id)))
    return forged


async def test_update_path_that_rewrites_the_credential_is_refused(resolver: Resolver) -> None:
    node, admin, bob, mallory = await _group_of_three(resolver)
    assert mallory.group is not None and bob.group is not None
    forged = _forge_leaf_credential(mallory.group, admin.keys.inbox_id)
    staged = forged.commit([], force_path=True)
    assert staged.message is not None
    epoch = bob.group.epoch
    envelope = node.publish(bob.group.group_id, staged.message.to_bytes(), is_commit=True)
    (event,) = await receive(bob, envelope, resolver)
    assert isinstance(event, EnvelopeRejected) and event.reason is RejectReason.CREDENTIAL_CHANGED
    assert bob.group.epoch == epoch
    # Had it been merged, mallory's next message would be reported as the admin's; the group stayed put, so
    # her (unforged) messages still come from her.
    (msg,) = await receive(bob, send(node, mallory, "hello"), resolver)
    assert isinstance(msg, MessageReceived) and msg.sender_inbox_id == mallory.keys.inbox_id


async def test_update_path_to_an_installation_of_another_inbox_is_refused(resolver: Resolver) -> None:
    """The signature key may change only to another installation of the same inbox."""
    node, _, bob, mallory = await _group_of_three(resolver)
    assert mallory.group is not None and bob.group is not None
    outsider = client(resolver)  # mallory signs with a key that belongs to outsider's inbox, not hers
    forged = Group.from_bytes(mallory.group.to_bytes())
    own = forged.own_leaf_index
    leaf = forged.tree.member_leaf(own)
    forged.epoch_state.tree.set_leaf(own, replace(leaf, signature_key=outsider.keys.installation_key))
    forged.signature_priv = outsider.keys.private_seed
    staged = forged.commit([], force_path=True)
    assert staged.message is not None
    envelope = node.publish(bob.group.group_id, staged.message.to_bytes(), is_commit=True)
    (event,) = await receive(bob, envelope, resolver)
    assert isinstance(event, EnvelopeRejected)


async def test_commit_of_an_update_proposal_that_rewrites_the_credential_is_refused(resolver: Resolver) -> None:
    """The Update-proposal route: bob's copy holds mallory's forged Update as pending (as a lenient receiver
    would), and the admin commits it by reference."""
    node, admin, bob, mallory = await _group_of_three(resolver)
    assert mallory.group is not None and bob.group is not None and admin.group is not None
    forged = _forge_leaf_credential(mallory.group, admin.keys.inbox_id)
    leaf = forged.tree.member_leaf(forged.own_leaf_index)
    _, enc_pub = forged.suite.generate_hpke_key_pair()
    update = replace(leaf, encryption_key=enc_pub, leaf_node_source=SOURCE_UPDATE, lifetime=None).signed(
        forged.suite, forged.signature_priv, forged.group_id, forged.own_leaf_index
    )
    proposal_msg = forged.propose(Proposal.update(update))
    for receiver in (admin, bob):
        assert receiver.group is not None
        receiver.group.process_message(proposal_msg)
    staged = admin.group.commit([], force_path=True)
    assert staged.message is not None
    epoch = bob.group.epoch
    envelope = node.publish(bob.group.group_id, staged.message.to_bytes(), is_commit=True)
    (event,) = await receive(bob, envelope, resolver)
    assert isinstance(event, EnvelopeRejected)
    assert event.reason in (RejectReason.CREDENTIAL_CHANGED, RejectReason.MULTIPLE_ACTORS)
    assert bob.group.epoch == epoch


async def test_a_rewritten_update_leaf_is_caught_by_the_leaf_checks(resolver: Resolver) -> None:
    """The checks run on every leaf a commit rewrote, so an Update proposal's leaf is covered as well as the
    committer's path leaf (the engine refuses others' proposals today, this keeps the rule if that changes)."""
    _, admin, bob, mallory = await _group_of_three(resolver)
    assert bob.group is not None and mallory.group is not None
    index = mallory.group.own_leaf_index
    after = bob.group.tree.copy()
    leaf = after.member_leaf(index)
    after.update_leaf(index, replace(leaf, credential=build_credential(admin.keys.inbox_id)))
    changes = leaf_changes(bob.group.tree, after, removed=())
    assert [c.index for c in changes] == [index]
    with pytest.raises(CredentialChangeError):
        check_credentials_unchanged(changes)
    assert leaf_changes(bob.group.tree, after, removed=[index]) == []
    # Same credential, a signature key outside the inbox's installations: refused too.
    after.update_leaf(index, replace(leaf, signature_key=admin.keys.installation_key))
    with pytest.raises(MembershipError):
        check_changed_installations(leaf_changes(bob.group.tree, after, ()), resolver_states(resolver))


def resolver_states(resolver: Resolver) -> dict[str, frozenset[bytes]]:
    return {inbox: frozenset(keys) for inbox, keys in resolver.installations.items()}


def _gce_commit(group: Group, view: GroupExtensions) -> bytes:
    staged = Group.from_bytes(group.to_bytes()).commit(
        [Proposal.group_context_extensions(view.to_extensions())], force_path=True
    )
    assert staged.message is not None
    return staged.message.to_bytes()


@pytest.mark.parametrize("peer", ["bob", "admin"])
async def test_a_member_cannot_change_the_immutable_metadata(resolver: Resolver, peer: str) -> None:
    """mallory (a plain member) turns the group into a "DM" she created, with bob or with the admin as peer: the
    first would show bob a DM, the second made `conversation_info` raise after the commit was merged."""
    node, admin, bob, mallory = await _group_of_three(resolver)
    assert mallory.group is not None and bob.group is not None
    other = bob if peer == "bob" else admin
    view = parse_group_extensions(mallory.group.extensions)
    members = (mallory.keys.inbox_id, other.keys.inbox_id)
    forged = replace(view, metadata=GroupMetadata(ConversationType.DM, mallory.keys.inbox_id, members))
    epoch, extensions = bob.group.epoch, bob.group.extensions
    envelope = node.publish(bob.group.group_id, _gce_commit(mallory.group, forged), is_commit=True)
    (event,) = await receive(bob, envelope, resolver)
    assert isinstance(event, EnvelopeRejected) and event.reason is RejectReason.IMMUTABLE_METADATA_CHANGED
    assert bob.group.epoch == epoch and bob.group.extensions == extensions
