"""TreeKEM: tampered UpdatePaths (built from treekem.json cases) that processing must reject; every vector case
runs in ``test_official_vectors.py``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.errors import SignatureError, ValidationError
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.treekem import merge_update_path
from xmtp_core.mls.update_path import UpdatePath

from ._vectors import load

CASES = load("treekem")


def _first_path(case: dict[str, Any]) -> tuple[RatchetTree, int, UpdatePath]:
    up = next(u for u in case["update_paths"] if UpdatePath.from_bytes(bytes.fromhex(u["update_path"])).nodes)
    tree = RatchetTree.from_extension_data(bytes.fromhex(case["ratchet_tree"]))
    return tree, up["sender"], UpdatePath.from_bytes(bytes.fromhex(up["update_path"]))


def test_wrong_path_key_breaks_parent_hash() -> None:
    case = CASES[5]
    suite = get_cipher_suite(case["cipher_suite"])
    tree, sender, path = _first_path(case)
    bad_node = replace(path.nodes[0], encryption_key=path.nodes[-1].encryption_key)
    bad = replace(path, nodes=(bad_node, *path.nodes[1:]))
    with pytest.raises(ValidationError, match="parent_hash"):
        merge_update_path(suite, tree, sender, bad, bytes.fromhex(case["group_id"]))


def test_tampered_path_leaf_signature() -> None:
    case = CASES[5]
    suite = get_cipher_suite(case["cipher_suite"])
    tree, sender, path = _first_path(case)
    sig = path.leaf_node.signature
    bad = replace(path, leaf_node=replace(path.leaf_node, signature=sig[:-1] + bytes([sig[-1] ^ 1])))
    with pytest.raises(SignatureError):
        merge_update_path(suite, tree, sender, bad, bytes.fromhex(case["group_id"]))


def test_path_with_wrong_length_rejected() -> None:
    case = CASES[5]
    suite = get_cipher_suite(case["cipher_suite"])
    tree, sender, path = _first_path(case)
    with pytest.raises(ValidationError, match="filtered direct path"):
        merge_update_path(suite, tree, sender, replace(path, nodes=path.nodes[1:]), bytes.fromhex(case["group_id"]))
