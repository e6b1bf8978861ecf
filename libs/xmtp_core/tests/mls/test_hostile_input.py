"""Hostile MLS input costs at most n log n work, and the callers' size limits refuse it before the costly
checks (issue 8). Work is counted as Python call events (``_hostile.work``): doubling the input must not
come near quadrupling it."""

from __future__ import annotations

from typing import Any

import pytest
from xmtp_core.mls.cipher_suite import CipherSuite
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import LimitError, ValidationError
from xmtp_core.mls.group import Group, GroupConfig, StagedCommit
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.tree_nodes import Node

from . import _hostile as h

# Linear work doubles and n log n a little more; quadratic work quadruples. The bound sits between, with room
# for the linear parts that dominate at small sizes.
MAX_RATIO = 2.6


def _ratio(small: int, large: int) -> float:
    assert large > 0 and small > 0
    return large / small


def test_parent_hash_check_is_not_quadratic_in_unmerged_leaves() -> None:
    suite = h.suite()
    leaf = h.bundle(b"a").key_package.leaf_node
    other = h.bundle(b"b").key_package.leaf_node
    small, large = h.unmerged_tree(1024, leaf, other), h.unmerged_tree(2048, leaf, other)
    ratio = _ratio(
        h.work(lambda: small.verify_parent_hashes(suite), ValidationError),
        h.work(lambda: large.verify_parent_hashes(suite), ValidationError),
    )
    assert ratio < MAX_RATIO, ratio


def test_hostile_welcome_is_refused_with_little_work() -> None:
    (w_small, v_small), (w_large, v_large) = h.hostile_welcome(1024), h.hostile_welcome(4096)
    with pytest.raises(ValidationError):
        Group.join(w_large, v_large)
    ratio = _ratio(
        h.work(lambda: Group.join(w_small, v_small), ValidationError),
        h.work(lambda: Group.join(w_large, v_large), ValidationError),
    )
    assert ratio < 2 * MAX_RATIO, ratio  # 4x the input


def test_identical_leaves_are_refused_before_their_signatures() -> None:
    tree = h.identical_leaves_tree(4096)
    with pytest.raises(ValidationError, match="repeats"):
        tree.validate(h.suite(), b"group")
    assert h.work(lambda: tree.validate(h.suite(), b"group"), ValidationError) < 100_000


def test_full_tree_validation_is_linear() -> None:
    """A valid tree of distinct members: no check may compare each leaf with every other (the credential-type
    support check did)."""
    suite = h.suite()

    def tree(n: int) -> RatchetTree:
        nodes: list[Node | None] = [None] * (2 * n - 1)
        for i in range(n):
            nodes[2 * i] = h.bundle(b"m").key_package.leaf_node
        return RatchetTree(nodes)

    small, large = tree(256), tree(512)
    ratio = _ratio(h.work(lambda: small.validate(suite, b"g")), h.work(lambda: large.validate(suite, b"g")))
    assert ratio < MAX_RATIO, ratio


def test_commit_with_many_adds_costs_linear_work() -> None:
    small_msg, small_victim = h.many_adds_commit(200)
    large_msg, large_victim = h.many_adds_commit(400)
    ratio = _ratio(
        h.work(lambda: small_victim.process_message(small_msg)),
        h.work(lambda: large_victim.process_message(large_msg)),
    )
    assert ratio < MAX_RATIO, ratio


def test_commit_with_many_removes_truncates_once() -> None:
    """Removing most of the right half, one Remove at a time, must not rescan the tree after each."""

    def setup(n: int) -> tuple[bytes, Group]:
        creator, victim = _pair()
        bundles = [h.bundle(f"m{i}".encode()) for i in range(n)]
        staged = creator.commit([Proposal.add(b.key_package) for b in bundles])
        assert staged.message is not None
        creator.merge_staged_commit(staged)
        victim.merge_staged_commit(_staged(victim.process_message(staged.message)))
        last = max(i for i, _ in creator.members())
        removes = [Proposal.remove(i) for i, _ in creator.members() if creator.tree.n_leaves // 2 <= i < last]
        commit = creator.commit(removes)
        assert commit.message is not None
        return commit.message.to_bytes(), victim

    (small_msg, small_victim), (large_msg, large_victim) = setup(510), setup(1022)  # trees of 512 and 1024 full leaves
    ratio = _ratio(
        h.work(lambda: small_victim.process_message(small_msg)),
        h.work(lambda: large_victim.process_message(large_msg)),
    )
    assert ratio < MAX_RATIO, ratio


def _staged(result: object) -> StagedCommit:
    assert isinstance(result, StagedCommit)
    return result


def test_commit_referencing_many_proposals_resolves_each_once() -> None:
    def setup(n: int) -> tuple[bytes, Group]:
        creator, victim = _pair()
        for i in range(n):
            victim.process_message(creator.propose(Proposal.add(h.bundle(f"p{i}".encode()).key_package)).to_bytes())
        staged = creator.commit()
        assert staged.message is not None
        return staged.message.to_bytes(), victim

    (small_msg, small_victim), (large_msg, large_victim) = setup(150), setup(300)
    ratio = _ratio(
        h.work(lambda: small_victim.process_message(small_msg)),
        h.work(lambda: large_victim.process_message(large_msg)),
    )
    assert ratio < MAX_RATIO, ratio


def _pair() -> tuple[Group, Group]:
    sk, _ = h.suite().generate_signature_key_pair()
    creator = Group.create(h.SUITE_ID, sk, Credential.basic(b"creator"))
    bundle = h.bundle(b"victim")
    staged = creator.commit([Proposal.add(bundle.key_package)])
    creator.merge_staged_commit(staged)
    assert staged.welcome is not None
    return creator, Group.join(staged.welcome, bundle)


def _count_crypto(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count signature verifications and hashes from now on."""
    counts = {"verify": 0, "hash": 0}
    for name in counts:
        original = getattr(CipherSuite, name if name == "hash" else "verify_with_label")

        def counted(self: CipherSuite, *args: Any, _name: str = name, _original: Any = original) -> Any:
            counts[_name] += 1
            return _original(self, *args)

        monkeypatch.setattr(CipherSuite, name if name == "hash" else "verify_with_label", counted)
    return counts


def test_join_refuses_a_tree_beyond_max_leaves_before_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    welcome, victim = h.hostile_welcome(4096)
    counts = _count_crypto(monkeypatch)
    with pytest.raises(LimitError):
        Group.join(welcome, victim, max_leaves=250)
    assert counts == {"verify": 0, "hash": 1}  # the hash is the victim's own KeyPackageRef; no tree hash


def test_join_within_max_leaves_succeeds() -> None:
    sk, _ = h.suite().generate_signature_key_pair()
    creator = Group.create(h.SUITE_ID, sk, Credential.basic(b"creator"))
    bundles = [h.bundle(f"m{i}".encode()) for i in range(3)]
    staged = creator.commit([Proposal.add(b.key_package) for b in bundles])
    assert staged.welcome is not None
    Group.join(staged.welcome, bundles[0], max_leaves=4)
    with pytest.raises(LimitError):
        Group.join(staged.welcome, bundles[1], max_leaves=3)


def test_commit_beyond_limits_is_refused_before_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    msg, victim = h.many_adds_commit(20, GroupConfig(encrypt_handshake=False))  # public: can be read again
    counts = _count_crypto(monkeypatch)
    with pytest.raises(LimitError, match="proposals"):
        victim.process_message(msg, max_proposals=10)
    with pytest.raises(LimitError, match="members"):
        victim.process_message(msg, max_leaves=21)
    assert counts["verify"] == 2  # the commit's own signature, once per attempt; no KeyPackage's
    assert isinstance(victim.process_message(msg, max_leaves=22, max_proposals=20), StagedCommit)


def test_pending_proposals_are_bounded() -> None:
    creator, victim = _pair()
    for i in range(3):
        victim.process_message(creator.propose(Proposal.add(h.bundle(f"p{i}".encode()).key_package)), max_proposals=3)
    extra = creator.propose(Proposal.add(h.bundle(b"p3").key_package))
    with pytest.raises(LimitError):
        victim.process_message(extra, max_proposals=3)


def test_leaf_span_counts_to_the_rightmost_member() -> None:
    leaf = h.bundle(b"a").key_package.leaf_node
    nodes: list[Node | None] = [leaf, None, None, None, leaf]
    assert RatchetTree(list(nodes)).leaf_span() == 3
    assert RatchetTree([leaf]).leaf_span() == 1
