"""Conformance handler for tree-operations.json: apply an Add/Update/Remove proposal to a tree, without the
group checks a commit would run (RFC 9420 §12.1.1-§12.1.3)."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.conformance.util import check, h
from xmtp_core.mls.errors import ValidationError
from xmtp_core.mls.proposals import ADD, REMOVE, UPDATE, Proposal
from xmtp_core.mls.ratchet_tree import RatchetTree


def apply_tree_proposal(tree: RatchetTree, proposal: Proposal, sender: int) -> int | None:
    """Apply an Add, Update or Remove; returns the new leaf index for an Add."""
    if proposal.proposal_type == ADD and proposal.key_package is not None:
        return tree.add_leaf(proposal.key_package.leaf_node)
    if proposal.proposal_type == UPDATE and proposal.leaf_node is not None:
        tree.update_leaf(sender, proposal.leaf_node)
        return None
    if proposal.proposal_type == REMOVE:
        tree.remove_leaf(proposal.removed)
        return None
    raise ValidationError(f"RFC 9420 §12.1: proposal type {proposal.proposal_type} does not change the tree")


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``tree-operations.json``; AssertionError names the first mismatch."""
    suite = get_cipher_suite(case["cipher_suite"])
    tree = RatchetTree.from_extension_data(h(case["tree_before"]))
    check("tree_hash_before", tree.tree_hash(suite), h(case["tree_hash_before"]))
    apply_tree_proposal(tree, Proposal.from_bytes(h(case["proposal"])), case["proposal_sender"])
    check("tree_after", tree.to_extension_data(), h(case["tree_after"]))
    check("tree_hash_after", tree.tree_hash(suite), h(case["tree_hash_after"]))
