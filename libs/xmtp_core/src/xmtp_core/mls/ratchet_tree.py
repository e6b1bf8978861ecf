"""The public ratchet tree (RFC 9420 §4, §7): nodes, leaves, blanks, unmerged leaves, resolution, leaf
add/update/remove with truncation, tree hash (§7.8), parent hash (§7.9) and full tree validation (§7.9.2,
§12.4.3.1), plus (de)serialisation of the ratchet_tree extension. Private keys are not kept here.

Tree hashes and resolutions are cached per node. Both depend on exactly the node's subtree, so changing a node
drops only its own entries and its ancestors'; changing the leaf count (extension, truncation) drops them all.
Hashes and resolutions that leave out some leaves (parent hashes §7.9, UpdatePath joiners §12.4.1) reuse the
caches for subtrees that hold none of those leaves; whether a subtree holds one is a binary search in the
sorted excluded leaves, so an attacker's long unmerged_leaves list costs n log n, not n² (issue 8).

Validation runs the cheap structural checks (truncation, unmerged leaves, unique keys, capabilities) before
signatures and parent hashes, each check linear (or n log n) in the tree's size."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from xmtp_core.mls import tree_math as tm
from xmtp_core.mls.codec import Writer
from xmtp_core.mls.errors import DecodeError, ValidationError
from xmtp_core.mls.extensions import RequiredCapabilities
from xmtp_core.mls.leaf_node import SOURCE_COMMIT, LeafNode
from xmtp_core.mls.tree_nodes import (
    NODE_LEAF,
    NODE_PARENT,
    Node,
    ParentNode,
    decode_ratchet_tree,
    encode_ratchet_tree,
)

if TYPE_CHECKING:
    from xmtp_core.mls.cipher_suite import CipherSuite


class RatchetTree:
    """Array-form ratchet tree whose leaf count is always a power of two (RFC 9420 §4.2)."""

    def __init__(self, nodes: list[Node | None]) -> None:
        width = 1
        while tm.node_width(width) < len(nodes):
            width *= 2
        padded = list(nodes) + [None] * (tm.node_width(width) - len(nodes))
        for x, node in enumerate(padded):
            if node is not None and isinstance(node, LeafNode) != tm.is_leaf(x):
                raise DecodeError(f"RFC 9420 §7.8: node {x} has the wrong node type for its position")
        self._nodes: list[Node | None] = padded
        self._hash_cache: dict[int, bytes] = {}
        self._resolution_cache: dict[int, tuple[int, ...]] = {}
        self._no_blank_below = 0  # every leaf index below this is a member: add_leaf searches from here

    # ---- construction and serialisation ---------------------------------------------------------------
    @classmethod
    def with_leaf(cls, leaf: LeafNode) -> RatchetTree:
        """A one-leaf tree."""
        return cls([leaf])

    @classmethod
    def from_extension_data(cls, data: bytes) -> RatchetTree:
        """The tree a ratchet_tree extension carries."""
        return cls(decode_ratchet_tree(data))

    def to_extension_data(self) -> bytes:
        """This tree as ratchet_tree extension data."""
        return encode_ratchet_tree(self._nodes)

    def copy(self) -> RatchetTree:
        """An independent copy, caches included."""
        tree = RatchetTree(list(self._nodes))
        tree._hash_cache = dict(self._hash_cache)
        tree._resolution_cache = dict(self._resolution_cache)
        tree._no_blank_below = self._no_blank_below
        return tree

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RatchetTree) and self._nodes == other._nodes

    __hash__ = None  # type: ignore[assignment]

    # ---- access -----------------------------------------------------------------------------------------
    @property
    def n_leaves(self) -> int:
        """The leaf count, a power of two."""
        return (len(self._nodes) + 1) // 2

    @property
    def nodes(self) -> tuple[Node | None, ...]:
        """All nodes in array order."""
        return tuple(self._nodes)

    def node(self, x: int) -> Node | None:
        """Node ``x``, None when blank."""
        return self._nodes[x]

    def leaf(self, leaf_index: int) -> LeafNode | None:
        """The leaf at ``leaf_index``, None when blank or outside the tree."""
        if not 0 <= leaf_index < self.n_leaves:
            return None
        node = self._nodes[tm.leaf_to_node(leaf_index)]
        assert node is None or isinstance(node, LeafNode)
        return node

    def parent_node(self, x: int) -> ParentNode | None:
        """Parent node ``x``, None when blank."""
        node = self._nodes[x]
        assert node is None or isinstance(node, ParentNode)
        return node

    def member_leaf(self, leaf_index: int) -> LeafNode:
        """The leaf at ``leaf_index``; ValidationError when it is not a member."""
        leaf = self.leaf(leaf_index)
        if leaf is None:
            raise ValidationError(f"RFC 9420 §12.1: leaf {leaf_index} is not a member")
        return leaf

    def _parents(self) -> Iterator[tuple[int, ParentNode]]:
        """Non-blank parent nodes with their node indices."""
        for p in range(1, len(self._nodes), 2):
            parent = self.parent_node(p)
            if parent is not None:
                yield p, parent

    def leaves(self) -> Iterator[tuple[int, LeafNode]]:
        """(leaf index, leaf) of every member."""
        for i, leaf in enumerate(self._nodes[::2]):  # leaves are the even nodes
            if leaf is not None:
                assert isinstance(leaf, LeafNode)
                yield i, leaf

    def root(self) -> int:
        """The root's node index."""
        return tm.root(self.n_leaves)

    def direct_path(self, leaf_index: int) -> list[int]:
        """Node indices from the leaf's parent to the root."""
        return tm.leaf_direct_path(leaf_index, self.n_leaves)

    def copath(self, leaf_index: int) -> list[int]:
        """The siblings of the leaf and of its direct path below the root."""
        return tm.leaf_copath(leaf_index, self.n_leaves)

    # ---- resolution -------------------------------------------------------------------------------------
    def resolution(self, x: int, exclude: Iterable[int] = ()) -> list[int]:
        """RFC 9420 §4.1.1; ``exclude`` holds leaf indices treated as blank."""
        excluded = Exclusion(exclude)
        if excluded.covers(x):
            return self._resolution_excluding(x, excluded)
        return list(self._resolution(x))

    def _resolution(self, x: int) -> tuple[int, ...]:
        cached = self._resolution_cache.get(x)
        if cached is not None:
            return cached
        node = self._nodes[x]
        if tm.is_leaf(x):
            found: tuple[int, ...] = () if node is None else (x,)
        elif node is None:
            found = self._resolution(tm.left(x)) + self._resolution(tm.right(x))
        else:
            assert isinstance(node, ParentNode)
            found = (x, *(tm.leaf_to_node(u) for u in node.unmerged_leaves))
        self._resolution_cache[x] = found
        return found

    def _resolution_excluding(self, x: int, exclude: Exclusion) -> list[int]:
        if not exclude.covers(x):
            return list(self._resolution(x))
        node = self._nodes[x]
        if tm.is_leaf(x):
            return [] if node is None or tm.node_to_leaf(x) in exclude.leaves else [x]
        if node is None:
            return self._resolution_excluding(tm.left(x), exclude) + self._resolution_excluding(tm.right(x), exclude)
        assert isinstance(node, ParentNode)
        return [x] + [tm.leaf_to_node(u) for u in node.unmerged_leaves if u not in exclude.leaves]

    def filtered_direct_path(self, leaf_index: int) -> list[int]:
        """Direct path minus nodes whose copath child has an empty resolution (RFC 9420 §4.1.2)."""
        n = self.n_leaves
        return (
            [
                p
                for p, c in zip(self.direct_path(leaf_index), self.copath(leaf_index), strict=True)
                if self._resolution(c)
            ]
            if n > 1
            else []
        )

    # ---- mutation -------------------------------------------------------------------------------------
    def _set(self, x: int, node: Node | None) -> None:
        self._nodes[x] = node
        if node is None and tm.is_leaf(x):
            self._no_blank_below = min(self._no_blank_below, tm.node_to_leaf(x))
        self._invalidate(x)

    def _invalidate(self, x: int) -> None:
        """Drop the cached hashes and resolutions of ``x`` and its ancestors, the only ones that cover node ``x``."""
        hashes, resolutions = self._hash_cache, self._resolution_cache
        if not hashes and not resolutions:
            return
        top = self.root()
        k = tm.level(x)
        while True:
            hashes.pop(x, None)
            resolutions.pop(x, None)
            if x == top:
                return
            # Parent in a full tree (the leaf count is a power of two): set bit k, clear bit k + 1.
            x = (x | (1 << k)) & ~(1 << (k + 1))
            k += 1

    def set_parent(self, x: int, node: ParentNode | None) -> None:
        """Replace parent node ``x``."""
        self._set(x, node)

    def set_leaf(self, leaf_index: int, leaf: LeafNode | None) -> None:
        """Replace a leaf without touching its direct path (callers handle the path)."""
        self._set(tm.leaf_to_node(leaf_index), leaf)

    def blank_path(self, leaf_index: int) -> None:
        """Blank the leaf's direct path."""
        for p in self.direct_path(leaf_index):
            self._set(p, None)

    def add_leaf(self, leaf: LeafNode) -> int:
        """Place ``leaf`` in the leftmost blank leaf, extending the tree if full (RFC 9420 §12.1.1)."""
        index = next((i for i in range(self._no_blank_below, self.n_leaves) if self.leaf(i) is None), None)
        if index is None:
            index = self.n_leaves
            self._nodes.extend([None] * (len(self._nodes) + 1))
            self._clear_caches()  # new root and new blank nodes: start over rather than patch
        self._set(tm.leaf_to_node(index), leaf)
        self._no_blank_below = max(self._no_blank_below, index + 1)
        for p in self.direct_path(index):
            parent = self.parent_node(p)
            if parent is not None:
                self._set(p, replace(parent, unmerged_leaves=(*parent.unmerged_leaves, index)))
        return index

    def update_leaf(self, leaf_index: int, leaf: LeafNode) -> None:
        """Replace a member's leaf and blank its direct path (RFC 9420 §12.1.2)."""
        self.member_leaf(leaf_index)
        self._set(tm.leaf_to_node(leaf_index), leaf)
        self.blank_path(leaf_index)

    def remove_leaf(self, leaf_index: int, *, truncate: bool = True) -> None:
        """Blank a member's leaf and direct path, then truncate (RFC 9420 §12.1.3).

        A commit removing many members passes ``truncate=False`` and truncates once after the last: each
        truncation scans the right half, so one per Remove would cost removes × members."""
        self.member_leaf(leaf_index)
        self._set(tm.leaf_to_node(leaf_index), None)
        self.blank_path(leaf_index)
        if truncate:
            self.truncate()

    def truncate(self) -> None:
        """Halve the tree while its right half is entirely blank (RFC 9420 §7.7)."""
        while self.n_leaves > 1:
            half = self.n_leaves // 2
            if any(self.leaf(i) is not None for i in range(half, self.n_leaves)):
                return
            del self._nodes[tm.node_width(half) :]
            self._no_blank_below = min(self._no_blank_below, half)
            self._clear_caches()

    def _clear_caches(self) -> None:
        self._hash_cache.clear()
        self._resolution_cache.clear()

    # ---- hashes ---------------------------------------------------------------------------------------
    def tree_hash(self, suite: CipherSuite, x: int | None = None) -> bytes:
        """TreeHash of node ``x`` (default: root), RFC 9420 §7.8."""
        if x is None:
            x = self.root()
        return self._tree_hash(suite, x, _NO_EXCLUSION)

    def _tree_hash(self, suite: CipherSuite, x: int, exclude: Exclusion) -> bytes:
        covered = exclude.covers(x)  # if not, the subtree's hash is the same as without exclusions
        if not covered:
            cached = self._hash_cache.get(x)
            if cached is not None:
                return cached
        w = Writer()
        node = self._nodes[x]
        if tm.is_leaf(x):
            leaf_index = tm.node_to_leaf(x)
            w.u8(NODE_LEAF)
            w.u32(leaf_index)
            leaf = None if covered else node
            w.optional(leaf, lambda ww, n: n.encode(ww))
        else:
            w.u8(NODE_PARENT)
            parent = node
            if isinstance(parent, ParentNode) and covered:
                kept = tuple(u for u in parent.unmerged_leaves if u not in exclude.leaves)
                parent = replace(parent, unmerged_leaves=kept)
            w.optional(parent, lambda ww, n: n.encode(ww))
            w.vec(self._tree_hash(suite, tm.left(x), exclude))
            w.vec(self._tree_hash(suite, tm.right(x), exclude))
        digest = suite.hash(w.bytes())
        if not covered:
            self._hash_cache[x] = digest
        return digest

    def parent_hash_of(self, suite: CipherSuite, p: int, sibling: int) -> bytes:
        """ParentHash of parent ``p`` as seen from the child opposite ``sibling`` (RFC 9420 §7.9)."""
        parent = self.parent_node(p)
        if parent is None:
            raise ValidationError(f"RFC 9420 §7.9: parent hash of blank node {p}")
        w = Writer()
        w.vec(parent.encryption_key)
        w.vec(parent.parent_hash)
        w.vec(self._tree_hash(suite, sibling, Exclusion(parent.unmerged_leaves)))
        return suite.hash(w.bytes())

    def set_path_parent_hashes(self, suite: CipherSuite, leaf_index: int) -> bytes:
        """Chain parent_hash down the sender's filtered direct path; returns the value for its leaf.

        The nodes on the path must already hold their new keys and empty unmerged leaves (RFC 9420 §7.9).
        """
        path = self.filtered_direct_path(leaf_index)
        current = b""
        leaf_node = tm.leaf_to_node(leaf_index)
        for p in reversed(path):
            parent = self.parent_node(p)
            assert parent is not None
            self._set(p, replace(parent, parent_hash=current))
            child_toward_leaf = tm.left(p) if leaf_node < p else tm.right(p)
            other = tm.right(p) if child_toward_leaf == tm.left(p) else tm.left(p)
            current = self.parent_hash_of(suite, p, other)
        return current

    def verify_parent_hashes(self, suite: CipherSuite) -> None:
        """Every non-blank parent must be parent-hash valid (RFC 9420 §7.9.2)."""
        for p, parent in self._parents():
            excluded = Exclusion(parent.unmerged_leaves)
            if not any(
                self._has_parent_hash_link(suite, p, child, other, excluded)
                for child, other in ((tm.left(p), tm.right(p)), (tm.right(p), tm.left(p)))
            ):
                raise ValidationError(f"RFC 9420 §7.9.2: parent node {p} is not parent-hash valid")

    def _has_parent_hash_link(self, suite: CipherSuite, p: int, child: int, other: int, excluded: Exclusion) -> bool:
        expected = self.parent_hash_of(suite, p, other)
        for d in self._resolution_excluding(child, excluded):
            node = self._nodes[d]
            if isinstance(node, ParentNode) and node.parent_hash == expected:
                return True
            if isinstance(node, LeafNode) and node.leaf_node_source == SOURCE_COMMIT and node.parent_hash == expected:
                return True
        return False

    # ---- validation -----------------------------------------------------------------------------------
    def leaf_span(self) -> int:
        """One past the index of the rightmost member (0 for an empty tree): the width a size limit bounds."""
        for i in range(self.n_leaves - 1, -1, -1):
            if self._nodes[2 * i] is not None:
                return i + 1
        return 0

    def validate(
        self,
        suite: CipherSuite,
        group_id: bytes,
        required: RequiredCapabilities | None = None,
        *,
        now: int | None = None,
    ) -> None:
        """Full validation of a received tree (RFC 9420 §12.4.3.1 and §7.9.2); tree hash is checked by callers.

        Structural checks come first, signatures and parent hashes (the costly ones) last. With ``now``
        (seconds), a key_package leaf whose lifetime does not cover it is refused with LifetimeError."""
        if self.n_leaves > 1 and all(n is None for n in self._nodes[len(self._nodes) // 2 + 1 :: 2]):
            raise ValidationError("RFC 9420 §7.7: tree is not truncated (right half has no members)")
        self._validate_unmerged_leaves()
        self._validate_unique_keys()
        self._validate_leaf_capabilities(suite, required)
        if now is not None:
            for i, leaf in self.leaves():
                leaf.check_lifetime(now, f"leaf {i}")
        for i, leaf in self.leaves():
            leaf.verify(suite, group_id, i)
        self.verify_parent_hashes(suite)

    def _validate_unmerged_leaves(self) -> None:
        listed = {p: frozenset(parent.unmerged_leaves) for p, parent in self._parents()}
        n = self.n_leaves
        for p, unmerged in listed.items():
            below = tm.subtree_leaves(p)
            for u in unmerged:  # duplicates in the wire list add nothing to check
                if u not in below or self.leaf(u) is None:
                    raise ValidationError(
                        f"RFC 9420 §7.9: unmerged leaf {u} of node {p} is not a non-blank descendant leaf"
                    )
                for q in tm.leaf_direct_path(u, n):
                    if q == p:
                        break
                    between = listed.get(q)
                    if between is not None and u not in between:
                        raise ValidationError(
                            f"RFC 9420 §7.9: intermediate node {q} lacks unmerged leaf {u} listed by node {p}"
                        )

    def _validate_leaf_capabilities(self, suite: CipherSuite, required: RequiredCapabilities | None) -> None:
        leaves = list(self.leaves())
        credential_types = frozenset(leaf.credential.credential_type for _, leaf in leaves)
        for i, leaf in leaves:
            caps = leaf.capabilities
            if suite.suite_id not in caps.cipher_suites:
                raise ValidationError(f"RFC 9420 §7.3: leaf {i} does not support the group cipher suite")
            if required is not None:
                required.check(caps, f"leaf {i}")
            for ext in leaf.extensions:
                if not caps.supports_extension(ext.extension_type):
                    raise ValidationError(
                        f"RFC 9420 §7.3: leaf {i} has extension 0x{ext.extension_type:04x} not in its capabilities"
                    )
            # A subset test first compares sizes, so this costs at most the leaf's own capabilities list.
            if not credential_types <= caps.credential_set:
                missing = min(credential_types - caps.credential_set)
                raise ValidationError(f"RFC 9420 §7.3: leaf {i} does not support credential type {missing}")

    def _validate_unique_keys(self) -> None:
        encryption_keys: set[bytes] = set()
        signature_keys: set[bytes] = set()
        for x, node in enumerate(self._nodes):
            if node is None:
                continue
            if node.encryption_key in encryption_keys:
                raise ValidationError(f"RFC 9420 §7.3: node {x} repeats an HPKE encryption key")
            encryption_keys.add(node.encryption_key)
            if isinstance(node, LeafNode):
                if node.signature_key in signature_keys:
                    raise ValidationError(f"RFC 9420 §7.3: node {x} repeats a signature key")
                signature_keys.add(node.signature_key)


class Exclusion:
    """Leaf indices treated as blank, sorted so that whether a subtree holds one is a binary search."""

    __slots__ = ("_sorted", "leaves")

    def __init__(self, leaves: Iterable[int] = ()) -> None:
        self.leaves = frozenset(leaves)
        self._sorted = sorted(self.leaves)

    def covers(self, x: int) -> bool:
        """Whether the subtree under node ``x`` holds an excluded leaf."""
        if not self._sorted:
            return False
        k = tm.level(x)
        first = (x >> (k + 1)) << k
        i = bisect_left(self._sorted, first)
        return i < len(self._sorted) and self._sorted[i] < first + (1 << k)


_NO_EXCLUSION = Exclusion()
