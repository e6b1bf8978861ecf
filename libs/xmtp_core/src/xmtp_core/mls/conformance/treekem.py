"""Conformance handler for treekem.json: merge and decrypt each UpdatePath for every private leaf, then
create a fresh UpdatePath from each private leaf and check the others can process it."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls import tree_math as tm
from xmtp_core.mls.cipher_suite import CipherSuite, get_cipher_suite
from xmtp_core.mls.conformance.util import check, h, hpke_private_key
from xmtp_core.mls.extensions import PROTOCOL_MLS10
from xmtp_core.mls.group_context import GroupContext
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.treekem import PathKeys, create_update_path, decrypt_update_path, merge_update_path, node_key_pair
from xmtp_core.mls.update_path import UpdatePath


def _context(case: dict[str, Any], suite: CipherSuite, tree_hash: bytes) -> bytes:
    return GroupContext(
        PROTOCOL_MLS10, suite.suite_id, h(case["group_id"]), case["epoch"], tree_hash,
        h(case["confirmed_transcript_hash"]),
    ).to_bytes()  # fmt: skip


def _private_keys(suite: CipherSuite, case: dict[str, Any]) -> dict[int, PathKeys]:
    out: dict[int, PathKeys] = {}
    for entry in case["leaves_private"]:
        keys = PathKeys(
            entry["index"], {tm.leaf_to_node(entry["index"]): hpke_private_key(suite, entry["encryption_priv"])}
        )
        for ps in entry["path_secrets"]:
            keys.keys[ps["node"]] = node_key_pair(suite, h(ps["path_secret"]))[0]
        out[entry["index"]] = keys
    return out


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``treekem.json``; AssertionError names the first mismatch."""
    suite = get_cipher_suite(case["cipher_suite"])
    group_id = h(case["group_id"])
    base = RatchetTree.from_extension_data(h(case["ratchet_tree"]))
    for up in case["update_paths"]:
        tree = base.copy()
        sender = up["sender"]
        path = UpdatePath.from_bytes(h(up["update_path"]))
        merge_update_path(suite, tree, sender, path, group_id)
        check("tree_hash_after", tree.tree_hash(suite), h(up["tree_hash_after"]))
        context = _context(case, suite, tree.tree_hash(suite))
        for index, keys in _private_keys(suite, case).items():
            want = up["path_secrets"][index]
            if index == sender or want is None:
                continue
            commit_secret, learned = decrypt_update_path(suite, tree, keys, sender, path, context)
            check(f"path_secret[{index}]", learned, h(want))
            check(f"commit_secret[{index}]", commit_secret, h(up["commit_secret"]))
    _check_fresh_paths(case, suite, base)


def _check_fresh_paths(case: dict[str, Any], suite: CipherSuite, base: RatchetTree) -> None:
    group_id = h(case["group_id"])
    sig_privs = {e["index"]: h(e["signature_priv"]) for e in case["leaves_private"]}
    for sender, sig_priv in sig_privs.items():
        tree = base.copy()
        template = tree.member_leaf(sender)
        created = create_update_path(
            suite, tree, sender, template, sig_priv, group_id, lambda th: _context(case, suite, th)
        )
        receiver_tree = base.copy()
        merge_update_path(suite, receiver_tree, sender, created.update_path, group_id)
        check("fresh path tree hash", receiver_tree.tree_hash(suite), tree.tree_hash(suite))
        receiver_tree.verify_parent_hashes(suite)
        context = _context(case, suite, tree.tree_hash(suite))
        for index, keys in _private_keys(suite, case).items():
            if index == sender:
                continue
            commit_secret, _ = decrypt_update_path(suite, receiver_tree, keys, sender, created.update_path, context)
            check(f"fresh commit_secret[{index}]", commit_secret, created.commit_secret)
