"""Conformance handler for tree-operations.json: apply an Add/Update/Remove proposal to a tree."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.conformance.util import check, h
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.tree_ops import apply_tree_proposal


def run_case(case: dict[str, Any]) -> None:
    suite = get_cipher_suite(case["cipher_suite"])
    tree = RatchetTree.from_extension_data(h(case["tree_before"]))
    check("tree_hash_before", tree.tree_hash(suite), h(case["tree_hash_before"]))
    apply_tree_proposal(tree, Proposal.from_bytes(h(case["proposal"])), case["proposal_sender"])
    check("tree_after", tree.to_extension_data(), h(case["tree_after"]))
    check("tree_hash_after", tree.tree_hash(suite), h(case["tree_hash_after"]))
