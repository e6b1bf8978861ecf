"""Conformance handler for tree-validation.json: resolutions, per-node tree hashes and a valid tree."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.conformance.util import check, h
from xmtp_core.mls.ratchet_tree import RatchetTree


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``tree-validation.json``; AssertionError names the first mismatch."""
    suite = get_cipher_suite(case["cipher_suite"])
    tree = RatchetTree.from_extension_data(h(case["tree"]))
    for x, want in enumerate(case["resolutions"]):
        check(f"resolution({x})", tree.resolution(x), want)
    for x, want in enumerate(case["tree_hashes"]):
        check(f"tree_hash({x})", tree.tree_hash(suite, x), h(want))
    tree.validate(suite, h(case["group_id"]))
