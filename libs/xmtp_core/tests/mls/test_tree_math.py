"""Tree math (RFC 9420 Appendix C): structural properties over many tree sizes, and error cases."""

from __future__ import annotations

import pytest
from xmtp_core.mls import tree_math as tm
from xmtp_core.mls.errors import ValidationError


@pytest.mark.parametrize("n_leaves", [1, 2, 4, 8, 16, 64])
def test_paths_and_siblings(n_leaves: int) -> None:
    root = tm.root(n_leaves)
    for leaf in range(n_leaves):
        x = tm.leaf_to_node(leaf)
        path = tm.direct_path(x, n_leaves)
        cop = tm.copath(x, n_leaves)
        assert len(path) == len(cop) == tm.log2(n_leaves)
        assert (path[-1] if path else x) == root
        for node, sib in zip([x, *path][:-1], cop, strict=True):
            assert tm.sibling(sib, n_leaves) == node
            assert leaf not in tm.subtree_leaves(sib)
        assert tm.leaf_direct_path(leaf, n_leaves) == path
        assert tm.leaf_copath(leaf, n_leaves) == cop
        for other in range(n_leaves):
            anc = tm.leaf_common_ancestor(leaf, other)
            assert {leaf, other} <= set(tm.subtree_leaves(anc))
            if other != leaf:
                assert anc in path


def test_levels_and_children() -> None:
    assert [tm.level(x) for x in range(8)] == [0, 1, 0, 2, 0, 1, 0, 3]
    assert (tm.left(7), tm.right(7)) == (3, 11)
    assert list(tm.subtree_leaves(11)) == [4, 5, 6, 7]
    assert tm.common_ancestor(2, 8) == 7


def test_errors() -> None:
    with pytest.raises(ValidationError):
        tm.left(4)
    with pytest.raises(ValidationError):
        tm.parent(3, 4)
    with pytest.raises(ValidationError):
        tm.parent(7, 4)
    with pytest.raises(ValidationError):
        tm.node_to_leaf(3)
    with pytest.raises(ValidationError):
        tm.root(0)
