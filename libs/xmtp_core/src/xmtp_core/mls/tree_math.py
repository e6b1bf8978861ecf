"""Array-based ratchet tree index arithmetic (RFC 9420 §4.2 and Appendix C).

Nodes are numbered left to right in an array: leaves are even (leaf ``i`` is node ``2*i``), parents odd.
Functions taking ``x`` work on node indices; ``n_leaves`` is the tree's leaf count (a power of two in MLS,
though the arithmetic accepts any positive count). The ``leaf_*`` helpers accept leaf indices instead.
"""

from __future__ import annotations

from xmtp_core.mls.errors import ValidationError


def log2(x: int) -> int:
    """Floor of log2(x); 0 for x == 0."""
    return x.bit_length() - 1 if x > 0 else 0


def level(x: int) -> int:
    """Height of node ``x`` above the leaves: the number of trailing one bits."""
    if x & 1 == 0:
        return 0
    k = 0
    while (x >> k) & 1 == 1:
        k += 1
    return k


def is_leaf(x: int) -> bool:
    """Whether node ``x`` is a leaf (even index)."""
    return x & 1 == 0


def leaf_to_node(leaf: int) -> int:
    """The node index of leaf ``leaf``."""
    return 2 * leaf


def node_to_leaf(x: int) -> int:
    """The leaf index of leaf node ``x``."""
    if not is_leaf(x):
        raise ValidationError(f"node {x} is not a leaf (RFC 9420 §4.2)")
    return x // 2


def node_width(n_leaves: int) -> int:
    """Number of array nodes for ``n_leaves`` leaves."""
    return 0 if n_leaves == 0 else 2 * (n_leaves - 1) + 1


def root(n_leaves: int) -> int:
    """The root's node index in a tree of ``n_leaves``."""
    if n_leaves < 1:
        raise ValidationError("a tree needs at least one leaf (RFC 9420 §4.2)")
    return (1 << log2(node_width(n_leaves))) - 1


def _check_node(x: int, n_leaves: int) -> None:
    if not 0 <= x < node_width(n_leaves):
        raise ValidationError(f"node {x} outside a tree of {n_leaves} leaves (RFC 9420 Appendix C)")


def left(x: int) -> int:
    """The left child of parent node ``x``."""
    k = level(x)
    if k == 0:
        raise ValidationError(f"leaf node {x} has no children (RFC 9420 Appendix C)")
    return x ^ (0x01 << (k - 1))


def right(x: int) -> int:
    """The right child of parent node ``x``."""
    k = level(x)
    if k == 0:
        raise ValidationError(f"leaf node {x} has no children (RFC 9420 Appendix C)")
    return x ^ (0x03 << (k - 1))


def parent(x: int, n_leaves: int) -> int:
    """The parent of node ``x`` in a tree of ``n_leaves``."""
    _check_node(x, n_leaves)
    if x == root(n_leaves):
        raise ValidationError(f"root node {x} has no parent (RFC 9420 Appendix C)")
    k = level(x)
    b = (x >> (k + 1)) & 0x01
    return (x | (1 << k)) ^ (b << (k + 1))


def sibling(x: int, n_leaves: int) -> int:
    """The other child of node ``x``'s parent."""
    p = parent(x, n_leaves)
    return right(p) if x < p else left(p)


def direct_path(x: int, n_leaves: int) -> list[int]:
    """Parents of ``x`` from its parent up to and including the root (empty for the root)."""
    _check_node(x, n_leaves)
    r = root(n_leaves)
    path: list[int] = []
    while x != r:
        x = parent(x, n_leaves)
        path.append(x)
    return path


def copath(x: int, n_leaves: int) -> list[int]:
    """Siblings of ``x`` and of each node on its direct path below the root."""
    _check_node(x, n_leaves)
    if x == root(n_leaves):
        return []
    nodes = [x, *direct_path(x, n_leaves)[:-1]]
    return [sibling(y, n_leaves) for y in nodes]


def common_ancestor(x: int, y: int) -> int:
    """Lowest node whose subtree contains both ``x`` and ``y``."""
    lx, ly = level(x) + 1, level(y) + 1
    if lx <= ly and x >> ly == y >> ly:
        return y
    if ly <= lx and x >> lx == y >> lx:
        return x
    k = 0
    while x != y:
        x, y = x >> 1, y >> 1
        k += 1
    return (x << k) + (1 << (k - 1)) - 1


def subtree_leaves(x: int) -> range:
    """Leaf indices under node ``x``."""
    k = level(x)
    first = (x - ((1 << k) - 1)) // 2
    return range(first, first + (1 << k))


def leaf_direct_path(leaf: int, n_leaves: int) -> list[int]:
    """The direct path of leaf ``leaf``."""
    return direct_path(leaf_to_node(leaf), n_leaves)


def leaf_copath(leaf: int, n_leaves: int) -> list[int]:
    """The copath of leaf ``leaf``."""
    return copath(leaf_to_node(leaf), n_leaves)


def leaf_common_ancestor(leaf_a: int, leaf_b: int) -> int:
    """The lowest node above both leaves."""
    return common_ancestor(leaf_to_node(leaf_a), leaf_to_node(leaf_b))
