"""Ratchet tree: tampering that validation must catch, on trees from the tree-validation and tree-operations
vectors (which run in full in ``test_official_vectors.py``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.codec import Reader, encode_vec
from xmtp_core.mls.errors import DecodeError, SignatureError, ValidationError
from xmtp_core.mls.leaf_node import LeafNode
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.tree_nodes import ParentNode

from ._vectors import load

VALIDATION = load("tree-validation")
OPERATIONS = load("tree-operations")


def _big_case() -> dict[str, Any]:
    """A vector tree with at least one non-blank parent node."""
    for case in VALIDATION:
        tree = RatchetTree.from_extension_data(bytes.fromhex(case["tree"]))
        if any(isinstance(n, ParentNode) for n in tree.nodes):
            return case
    raise AssertionError("no vector with parent nodes")


def test_bad_parent_hash_is_rejected() -> None:
    case = _big_case()
    suite = get_cipher_suite(case["cipher_suite"])
    tree = RatchetTree.from_extension_data(bytes.fromhex(case["tree"]))
    x = next(i for i, n in enumerate(tree.nodes) if isinstance(n, ParentNode))
    parent = tree.parent_node(x)
    assert parent is not None
    tree.set_parent(x, replace(parent, encryption_key=bytes(len(parent.encryption_key))))
    with pytest.raises(ValidationError, match="parent-hash valid"):
        tree.validate(suite, bytes.fromhex(case["group_id"]))


def test_tampered_leaf_signature_is_rejected() -> None:
    case = VALIDATION[0]
    suite = get_cipher_suite(case["cipher_suite"])
    nodes = list(RatchetTree.from_extension_data(bytes.fromhex(case["tree"])).nodes)
    leaf = nodes[0]
    assert isinstance(leaf, LeafNode)
    nodes[0] = replace(leaf, signature=bytes([leaf.signature[0] ^ 1]) + leaf.signature[1:])
    with pytest.raises(SignatureError):
        RatchetTree(nodes).validate(suite, bytes.fromhex(case["group_id"]))


def test_duplicate_signature_key_is_rejected() -> None:
    case = next(c for c in VALIDATION if len(c["resolutions"]) >= 3)
    suite = get_cipher_suite(case["cipher_suite"])
    tree = RatchetTree.from_extension_data(bytes.fromhex(case["tree"]))
    leaves = list(tree.leaves())
    assert len(leaves) >= 2
    (_, first), (j, second) = leaves[0], leaves[1]
    tree2 = tree.copy()
    tree2._nodes[2 * j] = replace(second, signature_key=first.signature_key)
    with pytest.raises((ValidationError, SignatureError)):
        tree2.validate(suite, bytes.fromhex(case["group_id"]))


def test_add_then_remove_truncates_back() -> None:
    case = OPERATIONS[0]
    tree = RatchetTree.from_extension_data(bytes.fromhex(case["tree_before"]))
    leaf = next(leaf for _, leaf in tree.leaves())
    width = tree.n_leaves
    index = 0
    while index < width:
        index = tree.add_leaf(leaf)
    assert tree.n_leaves == 2 * width
    tree.remove_leaf(index)
    assert tree.n_leaves == width
    assert tree.leaf(index) is None


def test_ratchet_tree_with_trailing_blank_is_rejected() -> None:
    data = bytes.fromhex(VALIDATION[0]["tree"])
    tree = RatchetTree.from_extension_data(data)
    body = tree.to_extension_data()
    # Re-encode with an extra blank optional<Node> at the end.
    inner = Reader(body).vec() + b"\x00"
    with pytest.raises(DecodeError):
        RatchetTree.from_extension_data(encode_vec(inner))
