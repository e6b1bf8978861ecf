"""The ratchet tree's per-node caches: after random add / remove / update / path-refresh / copy sequences, every
tree hash, parent hash and resolution (with and without excluded leaves) equals a from-scratch computation by an
independent reference."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xmtp_core.mls import tree_math as tm
from xmtp_core.mls.cipher_suite import CipherSuite, get_cipher_suite
from xmtp_core.mls.codec import Writer
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.leaf_node import LeafNode
from xmtp_core.mls.own_key_package import create_key_package
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.tree_nodes import Node, ParentNode

SUITE = get_cipher_suite(3)
LEAF_POOL = 6


def _leaf(i: int) -> LeafNode:
    sig_priv, _ = SUITE.generate_signature_key_pair()
    return create_key_package(3, sig_priv, Credential.basic(f"member-{i}".encode())).key_package.leaf_node


LEAVES = [_leaf(i) for i in range(LEAF_POOL)]


def reference_tree_hash(suite: CipherSuite, nodes: list[Node | None], x: int, exclude: frozenset[int]) -> bytes:
    """RFC 9420 §7.8 TreeHash computed recursively with no cache, leaves in ``exclude`` treated as blank."""
    w = Writer()
    node = nodes[x]
    if tm.is_leaf(x):
        w.u8(1).u32(x // 2)
        if node is None or x // 2 in exclude:
            w.u8(0)
        else:
            w.u8(1)
            node.encode(w)
        return suite.hash(w.bytes())
    w.u8(2)
    if node is None:
        w.u8(0)
    else:
        assert isinstance(node, ParentNode)
        w.u8(1)
        replace(node, unmerged_leaves=tuple(u for u in node.unmerged_leaves if u not in exclude)).encode(w)
    w.vec(reference_tree_hash(suite, nodes, tm.left(x), exclude))
    w.vec(reference_tree_hash(suite, nodes, tm.right(x), exclude))
    return suite.hash(w.bytes())


def reference_parent_hash(suite: CipherSuite, nodes: list[Node | None], p: int, sibling: int) -> bytes:
    parent = nodes[p]
    assert isinstance(parent, ParentNode)
    w = Writer().vec(parent.encryption_key).vec(parent.parent_hash)
    w.vec(reference_tree_hash(suite, nodes, sibling, frozenset(parent.unmerged_leaves)))
    return suite.hash(w.bytes())


def reference_resolution(nodes: list[Node | None], x: int, exclude: frozenset[int]) -> list[int]:
    """RFC 9420 §4.1.1 resolution, leaves in ``exclude`` treated as blank."""
    node = nodes[x]
    if tm.is_leaf(x):
        return [] if node is None or x // 2 in exclude else [x]
    if node is None:
        return reference_resolution(nodes, tm.left(x), exclude) + reference_resolution(nodes, tm.right(x), exclude)
    assert isinstance(node, ParentNode)
    return [x] + [2 * u for u in node.unmerged_leaves if u not in exclude]


def assert_hashes_match(tree: RatchetTree) -> None:
    nodes = list(tree.nodes)
    members = frozenset(_members(tree))
    some = frozenset(sorted(members)[::2])
    for x in range(len(nodes)):
        assert tree.tree_hash(SUITE, x) == reference_tree_hash(SUITE, nodes, x, frozenset()), f"node {x}"
        for exclude in (frozenset(), some):
            assert tree.resolution(x, exclude) == reference_resolution(nodes, x, exclude), f"resolution of {x}"
    for p, node in enumerate(nodes):
        if isinstance(node, ParentNode):
            for child in (tm.left(p), tm.right(p)):
                assert tree.parent_hash_of(SUITE, p, child) == reference_parent_hash(SUITE, nodes, p, child)


def _members(tree: RatchetTree) -> list[int]:
    return [i for i, _ in tree.leaves()]


def _refresh_path(tree: RatchetTree, leaf_index: int) -> None:
    """What an UpdatePath does to the public tree: new parent keys on the filtered path, chained parent hashes."""
    tree.blank_path(leaf_index)
    for p in tree.filtered_direct_path(leaf_index):
        tree.set_parent(p, ParentNode(os.urandom(32)))
    parent_hash = tree.set_path_parent_hashes(SUITE, leaf_index)
    tree.set_leaf(leaf_index, replace(tree.member_leaf(leaf_index), parent_hash=parent_hash))


def _apply(tree: RatchetTree, op: str, pick: int, variant: int) -> RatchetTree:
    """One operation; ``pick`` chooses a member or node, ``variant`` a leaf from the pool. Returns the tree to go on
    with (a copy for "copy")."""
    members = _members(tree)
    member = members[pick % len(members)]
    leaf = replace(LEAVES[variant % LEAF_POOL], encryption_key=os.urandom(32))
    if op == "add":
        tree.add_leaf(leaf)
    elif op == "remove" and len(members) > 1:
        tree.remove_leaf(member)
    elif op == "update":
        tree.update_leaf(member, leaf)
    elif op == "path":
        _refresh_path(tree, member)
    elif op == "parent" and tree.n_leaves > 1:
        p = 2 * (pick % (tree.n_leaves - 1)) + 1
        under = [u for u in members if u in tm.subtree_leaves(p)][: variant % 3]
        tree.set_parent(p, ParentNode(os.urandom(32), os.urandom(variant % 2 * 32), tuple(under)))
    elif op == "hash":  # fill part of the caches only
        tree.tree_hash(SUITE, pick % len(tree.nodes))
        tree.resolution(variant % len(tree.nodes))
    elif op == "copy":
        return tree.copy()
    return tree


OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "remove", "update", "path", "parent", "hash", "copy"]),
        st.integers(0, 63),
        st.integers(0, 63),
        st.booleans(),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=st.integers(1, 9), ops=OPS)
def test_cached_hashes_match_a_from_scratch_computation(start: int, ops: list[tuple[str, int, int, bool]]) -> None:
    tree = RatchetTree.with_leaf(LEAVES[0])
    for i in range(1, start):
        tree.add_leaf(replace(LEAVES[i % LEAF_POOL], encryption_key=os.urandom(32)))
    tree.tree_hash(SUITE)
    for op, pick, variant, check in ops:
        before = tree
        tree = _apply(tree, op, pick, variant)
        if check:
            assert_hashes_match(tree)
        if tree is not before:  # the original changing and refilling its caches must not leak into the copy
            _refresh_path(before, _members(before)[-1])
            before.add_leaf(LEAVES[1])
            assert_hashes_match(before)
    assert_hashes_match(tree)


def test_copy_keeps_the_cache_and_changes_stay_separate() -> None:
    tree = RatchetTree.with_leaf(LEAVES[0])
    for i in range(1, 5):
        tree.add_leaf(LEAVES[i])
    root_hash = tree.tree_hash(SUITE)
    twin = tree.copy()
    twin.update_leaf(1, replace(LEAVES[5], encryption_key=os.urandom(32)))
    assert tree.tree_hash(SUITE) == root_hash
    assert twin.tree_hash(SUITE) != root_hash
    assert_hashes_match(twin)


@pytest.mark.parametrize("remove", [[7], [7, 6, 5, 4], [3, 5, 6, 7, 4]])
def test_truncation_after_cached_hashes(remove: list[int]) -> None:
    tree = RatchetTree.with_leaf(LEAVES[0])
    for i in range(1, 8):
        tree.add_leaf(replace(LEAVES[i % LEAF_POOL], encryption_key=os.urandom(32)))
    for leaf_index in (0, 5):
        _refresh_path(tree, leaf_index)
    assert_hashes_match(tree)
    for leaf_index in remove:
        tree.remove_leaf(leaf_index)
        assert_hashes_match(tree)
