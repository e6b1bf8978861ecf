"""Hostile members and senders: every envelope built here is signed with a real member's valid keys but carries
contents XMTP forbids; the engine must refuse each with a typed reason and leave the group where it was."""

from __future__ import annotations

from dataclasses import replace

import pytest
from enginekit import Client, Node, Resolver, add, client, join, receive, send
from test_hostile_kit import FailingResolver, group_of_three
from xmtp_core.content import default_registry
from xmtp_core.engine import (
    EnvelopeRejected,
    InstallationKeys,
    MessageReceived,
    Rejected,
    RejectReason,
    join_welcome,
    new_dm,
    new_group,
    new_key_package,
    open_welcome,
    process_envelope,
)
from xmtp_core.identity.errors import AssociationError, Rule
from xmtp_core.mls.group import Group
from xmtp_core.mls.leaf_node import SOURCE_UPDATE
from xmtp_core.mls.proposals import Proposal
from xmtp_core.node.errors import NodeUnavailable
from xmtp_core.node.models import GroupMessage
from xmtp_core.untrusted import DETAIL_LIMIT
from xmtp_core.xmtp_mls import credential as xmtp_credential
from xmtp_core.xmtp_mls import extensions as xmtp_extensions
from xmtp_core.xmtp_mls.commit_checks import check_changed_installations, check_credentials_unchanged, leaf_changes
from xmtp_core.xmtp_mls.credential import build_credential
from xmtp_core.xmtp_mls.errors import CredentialChangeError, MembershipError
from xmtp_core.xmtp_mls.extensions import (
    ConversationType,
    GroupExtensions,
    GroupMembership,
    GroupMetadata,
    parse_group_extensions,
)
from xmtp_core.xmtp_mls.key_package import build_key_package
from xmtp_core.xmtp_mls.welcome_wrapper import UnwrappedWelcome


async def receive_with(member: Client, envelope: GroupMessage, resolver: Resolver) -> list[object]:
    assert member.group is not None
    outcome = await process_envelope(member.group, envelope, member.keys, resolver, default_registry())
    return list(outcome.events)


def _forge_leaf_credential(group: Group, inbox_id: str) -> Group:
    """A copy of ``group`` whose own leaf claims ``inbox_id``: the next UpdatePath carries that credential."""
    forged = Group.from_bytes(group.to_bytes())
    own = forged.own_leaf_index
    leaf = forged.tree.member_leaf(own)
    forged.epoch_state.tree.set_leaf(own, replace(leaf, credential=build_credential(inbox_id)))
    return forged


async def test_update_path_that_rewrites_the_credential_is_refused(resolver: Resolver) -> None:
    node, admin, bob, mallory = await group_of_three(resolver)
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
    node, _, bob, mallory = await group_of_three(resolver)
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
    node, admin, bob, mallory = await group_of_three(resolver)
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
    _, admin, bob, mallory = await group_of_three(resolver)
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
    node, admin, bob, mallory = await group_of_three(resolver)
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


async def test_an_add_whose_key_package_claims_another_inbox_is_refused(resolver: Resolver) -> None:
    """mallory adds eve's installation under a credential naming the admin: the installation is in the diff (it
    is eve's), but the leaf would speak as the admin."""
    node, admin, bob, mallory = await group_of_three(resolver)
    assert mallory.group is not None and bob.group is not None
    eve = client(resolver)
    forged_kp = build_key_package(admin.keys.inbox_id, eve.keys.private_seed).key_package
    view = parse_group_extensions(mallory.group.extensions)
    members = GroupMembership({**view.membership.members, eve.keys.inbox_id: 1})
    staged = Group.from_bytes(mallory.group.to_bytes()).commit(
        [Proposal.add(forged_kp), Proposal.group_context_extensions(replace(view, membership=members).to_extensions())],
        force_path=True,
    )
    assert staged.message is not None
    epoch = bob.group.epoch
    (event,) = await receive(bob, node.publish(bob.group.group_id, staged.message.to_bytes(), is_commit=True), resolver)
    assert isinstance(event, EnvelopeRejected) and event.reason is RejectReason.INSTALLATION_DIFF
    assert bob.group.epoch == epoch


async def test_an_inbox_with_a_smart_contract_wallet_is_a_typed_rejection(resolver: Resolver) -> None:
    node, admin, bob, _ = await group_of_three(resolver)
    carol = client(resolver)
    assert bob.group is not None
    envelope = add(node, admin, [carol])
    scw = AssociationError(Rule.SCW_VERIFIER_REQUIRED, "no verifier")
    (event,) = await receive_with(bob, envelope, FailingResolver(resolver, {carol.keys.inbox_id: scw}))
    assert isinstance(event, EnvelopeRejected) and event.reason is RejectReason.IDENTITY_UNVERIFIABLE
    with pytest.raises(Rejected) as info:
        await join(node, carol, FailingResolver(resolver, {admin.keys.inbox_id: scw}))
    assert info.value.reason is RejectReason.IDENTITY_UNVERIFIABLE


async def test_a_node_outage_during_identity_look_ups_propagates(resolver: Resolver) -> None:
    """Transient: the runtime retries the envelope later, so the engine must not turn it into a rejection."""
    node, admin, bob, _ = await group_of_three(resolver)
    carol = client(resolver)
    envelope = add(node, admin, [carol])
    down = NodeUnavailable("GetIdentityUpdates", "connection refused")
    with pytest.raises(NodeUnavailable):
        await receive_with(bob, envelope, FailingResolver(resolver, {carol.keys.inbox_id: down}))
    with pytest.raises(NodeUnavailable):
        await join(node, carol, FailingResolver(resolver, {admin.keys.inbox_id: down}))


async def test_garbage_welcome_metadata_is_a_rejection(resolver: Resolver) -> None:
    node = Node()
    alice, bob = client(resolver), client(resolver)
    alice.group = new_dm(alice.keys, 1, bob.keys.inbox_id)
    add(node, alice, [bob])
    (msg,) = node.welcomes_for(bob.keys.installation_key)
    opened = open_welcome(msg, [bob.bundle])
    assert isinstance(opened, UnwrappedWelcome)
    garbage = replace(opened, welcome_metadata=b"\xff\xff\xff")
    with pytest.raises(Rejected) as info:
        await join_welcome(msg, garbage, [bob.bundle], bob.keys, resolver)
    assert info.value.reason is RejectReason.WELCOME_INVALID


@pytest.mark.parametrize("bad", ["a\x00" * 32, "A" * 64, "x", "a" * 10_000])
async def test_a_welcome_from_a_malformed_inbox_id_never_reaches_the_node(
    resolver: Resolver, bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any XMTP user can send us a Welcome; its inbox ids (credential, membership) are checked for form before
    any identity look-up, and the rejection's detail is cleaned (no NUL) and bounded."""
    node = Node()
    bob = client(resolver)
    with monkeypatch.context() as attacker:  # the sender does not run our format checks
        attacker.setattr(xmtp_extensions, "is_inbox_id", lambda _: True)
        attacker.setattr(xmtp_credential, "require_inbox_id", lambda value, _: value)
        alice = Client(InstallationKeys.generate(bad), bob.bundle)
        alice.bundle = new_key_package(alice.keys)
        resolver.installations[bad] = {alice.keys.installation_key}
        alice.group = new_group(alice.keys, 1)
        add(node, alice, [bob])
    watching = FailingResolver(resolver, {})
    with pytest.raises(Rejected) as info:
        await join(node, bob, watching)
    assert info.value.reason in (RejectReason.WELCOME_INVALID, RejectReason.JOINER_CHECK_FAILED)
    assert bad not in watching.asked
    assert "\x00" not in info.value.detail and len(info.value.detail) <= DETAIL_LIMIT
    assert "\x00" not in str(info.value) and len(str(info.value)) <= 2 * DETAIL_LIMIT


async def test_rejection_details_are_cleaned_at_the_source() -> None:
    rejected = Rejected(RejectReason.BAD_CONTENT, "evil\x00\nline" + "x" * 10_000)
    assert "\x00" not in rejected.detail and "\n" not in rejected.detail and len(rejected.detail) <= DETAIL_LIMIT
    event = EnvelopeRejected(b"g", 1, RejectReason.BAD_CONTENT, "nul\x00" * 1000)
    assert "\x00" not in event.detail and len(event.detail) <= DETAIL_LIMIT
