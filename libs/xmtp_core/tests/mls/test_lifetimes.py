"""Lifetimes (RFC 9420 §7.2, §7.3): with ``now`` given, Adds' KeyPackages and the leaves of a Welcome's tree
whose lifetime does not cover it are refused with LifetimeError; without ``now`` nothing is checked."""

from __future__ import annotations

import time

import pytest
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import LifetimeError
from xmtp_core.mls.extensions import Lifetime
from xmtp_core.mls.group import Group, ProposalMessage, StagedCommit
from xmtp_core.mls.own_key_package import OwnKeyPackage, create_key_package
from xmtp_core.mls.proposals import Proposal

SUITE = 3
DAY = 24 * 3600


def _bundle(name: bytes, lifetime: Lifetime | None = None) -> OwnKeyPackage:
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    return create_key_package(SUITE, sk, Credential.basic(name), lifetime=lifetime)


def _pair() -> tuple[Group, Group]:
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    creator = Group.create(SUITE, sk, Credential.basic(b"creator"))
    bundle = _bundle(b"member")
    staged = creator.commit([Proposal.add(bundle.key_package)])
    creator.merge_staged_commit(staged)
    assert staged.welcome is not None
    return creator, Group.join(staged.welcome, bundle)


def test_join_refuses_a_tree_leaf_outside_its_lifetime() -> None:
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    creator = Group.create(SUITE, sk, Credential.basic(b"creator"))  # default lifetime: 84 days from now
    joiners = [_bundle(b"a"), _bundle(b"b"), _bundle(b"c")]
    staged = creator.commit([Proposal.add(b.key_package) for b in joiners])
    assert staged.welcome is not None
    now = int(time.time())
    with pytest.raises(LifetimeError):
        Group.join(staged.welcome, joiners[0], now=now + 100 * DAY)
    with pytest.raises(LifetimeError):
        Group.join(staged.welcome, joiners[1], now=now - 2 * DAY)
    Group.join(staged.welcome, joiners[2], now=now)


def test_commit_adding_an_expired_key_package_is_refused() -> None:
    creator, member = _pair()
    expired = _bundle(b"late", Lifetime(1_000, 2_000))
    staged = creator.commit([Proposal.add(expired.key_package)])
    assert staged.message is not None
    with pytest.raises(LifetimeError):
        member.process_message(staged.message, now=int(time.time()))


def test_commit_adding_a_valid_key_package_is_accepted_with_now() -> None:
    creator, member = _pair()
    staged = creator.commit([Proposal.add(_bundle(b"fresh").key_package)])
    assert staged.message is not None
    assert isinstance(member.process_message(staged.message, now=int(time.time())), StagedCommit)


def test_add_proposal_with_a_key_package_not_yet_valid_is_refused() -> None:
    creator, member = _pair()
    now = int(time.time())
    future = _bundle(b"future", Lifetime(now + DAY, now + 2 * DAY))
    message = creator.propose(Proposal.add(future.key_package))
    with pytest.raises(LifetimeError):
        member.process_message(message, now=now)
    later = creator.propose(Proposal.add(_bundle(b"other", Lifetime(now + DAY, now + 2 * DAY)).key_package))
    assert isinstance(member.process_message(later, now=now + DAY + 60), ProposalMessage)
