"""Applying membership proposals to a ratchet tree (RFC 9420 §12.1.1-§12.1.3), without group validation."""

from __future__ import annotations

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
