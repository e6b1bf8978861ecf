"""TreeKEM (RFC 9420 §7.4-§7.6, §7.9): create an UpdatePath (path secrets, node keys, parent hashes, path
secrets encrypted to copath resolutions), merge a received UpdatePath into the tree, decrypt it, and derive
the commit secret. Private HPKE keys a member holds live in :class:`PathKeys`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from xmtp_core.mls import tree_math as tm
from xmtp_core.mls.errors import CryptoError, ValidationError
from xmtp_core.mls.leaf_node import SOURCE_COMMIT, LeafNode
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.tree_nodes import ParentNode
from xmtp_core.mls.update_path import HPKECiphertext, UpdatePath, UpdatePathNode

if TYPE_CHECKING:
    from xmtp_core.mls.cipher_suite import CipherSuite

UPDATE_PATH_LABEL = b"UpdatePathNode"


@dataclass
class PathKeys:
    """HPKE private keys one member holds, by node index: its own leaf and learned parents."""

    leaf_index: int
    keys: dict[int, bytes] = field(default_factory=dict, repr=False)

    def forget_direct_path(self, tree: RatchetTree, leaf_index: int) -> None:
        """Drop the keys of the nodes on ``leaf_index``'s direct path."""
        for p in tree.direct_path(leaf_index):
            self.keys.pop(p, None)

    def prune(self, tree: RatchetTree) -> None:
        """Drop keys for nodes that are blank, gone, or not on this member's direct path."""
        wanted = {tm.leaf_to_node(self.leaf_index), *tree.direct_path(self.leaf_index)}
        width = len(tree.nodes)
        self.keys = {x: k for x, k in self.keys.items() if x < width and x in wanted and tree.node(x) is not None}


def node_key_pair(suite: CipherSuite, path_secret: bytes) -> tuple[bytes, bytes]:
    """(private, public) HPKE key pair for a path secret: DeriveKeyPair(DeriveSecret(ps, "node"))."""
    return suite.derive_key_pair(suite.derive_secret(path_secret, b"node"))


def path_secret_chain(suite: CipherSuite, first: bytes, count: int) -> list[bytes]:
    """``count`` path secrets starting at ``first``, then the commit secret as the last element."""
    chain = [first]
    for _ in range(count):
        chain.append(suite.derive_secret(chain[-1], b"path"))
    return chain


@dataclass(frozen=True)
class CreatedPath:
    """Result of building an UpdatePath; the tree passed in has already been updated."""

    update_path: UpdatePath
    commit_secret: bytes = field(repr=False)
    path_secrets: dict[int, bytes] = field(repr=False)  # node index -> path secret, for Welcome path_secret
    keys: dict[int, bytes] = field(repr=False)  # node index -> new private key, including the sender's leaf


def create_update_path(
    suite: CipherSuite,
    tree: RatchetTree,
    sender: int,
    leaf_template: LeafNode,
    signature_priv: bytes,
    group_id: bytes,
    context_for: Callable[[bytes], bytes],
    exclude: frozenset[int] = frozenset(),
    leaf_key_pair: tuple[bytes, bytes] | None = None,
    first_path_secret: bytes | None = None,
) -> CreatedPath:
    """Refresh the sender's path in ``tree`` and encrypt the new path secrets (RFC 9420 §7.5, §7.6).

    ``context_for(tree_hash)`` returns the serialised provisional GroupContext for the updated tree;
    ``exclude`` lists leaves added by this commit, which get their secrets through the Welcome.
    """
    tree.blank_path(sender)
    fdp = tree.filtered_direct_path(sender)
    chain = path_secret_chain(suite, first_path_secret or os.urandom(suite.hash_len), len(fdp))
    keys: dict[int, bytes] = {}
    public_keys: list[bytes] = []
    for p, secret in zip(fdp, chain, strict=False):
        sk, pk = node_key_pair(suite, secret)
        keys[p] = sk
        public_keys.append(pk)
        tree.set_parent(p, ParentNode(pk))
    leaf_sk, leaf_pk = leaf_key_pair or suite.generate_hpke_key_pair()
    keys[tm.leaf_to_node(sender)] = leaf_sk
    parent_hash = tree.set_path_parent_hashes(suite, sender)
    leaf = replace(
        leaf_template, encryption_key=leaf_pk, leaf_node_source=SOURCE_COMMIT, lifetime=None, parent_hash=parent_hash
    ).signed(suite, signature_priv, group_id, sender)
    tree.set_leaf(sender, leaf)
    context = context_for(tree.tree_hash(suite))
    nodes = []
    for p, secret, pk in zip(fdp, chain, public_keys, strict=False):
        targets = tree.resolution(_copath_child(p, sender), exclude)
        cts = tuple(_encrypt_to(suite, tree, x, context, secret) for x in targets)
        nodes.append(UpdatePathNode(pk, cts))
    return CreatedPath(UpdatePath(leaf, tuple(nodes)), chain[-1], dict(zip(fdp, chain, strict=False)), keys)


def _copath_child(p: int, leaf_index: int) -> int:
    """The child of ``p`` that is not an ancestor of ``leaf_index``."""
    return tm.right(p) if tm.leaf_to_node(leaf_index) < p else tm.left(p)


def _encrypt_to(suite: CipherSuite, tree: RatchetTree, x: int, context: bytes, secret: bytes) -> HPKECiphertext:
    node = tree.node(x)
    assert node is not None
    kem_output, ct = suite.encrypt_with_label(node.encryption_key, UPDATE_PATH_LABEL, context, secret)
    return HPKECiphertext(kem_output, ct)


def merge_update_path(suite: CipherSuite, tree: RatchetTree, sender: int, path: UpdatePath, group_id: bytes) -> None:
    """Apply a received UpdatePath's public keys to ``tree`` and check its leaf (RFC 9420 §12.4.2)."""
    tree.member_leaf(sender)
    tree.blank_path(sender)
    fdp = tree.filtered_direct_path(sender)
    if len(path.nodes) != len(fdp):
        raise ValidationError(
            f"RFC 9420 §12.4.2: UpdatePath has {len(path.nodes)} nodes, filtered direct path has {len(fdp)}"
        )
    for p, node in zip(fdp, path.nodes, strict=True):
        tree.set_parent(p, ParentNode(node.encryption_key))
    parent_hash = tree.set_path_parent_hashes(suite, sender)
    leaf = path.leaf_node
    if leaf.leaf_node_source != SOURCE_COMMIT:
        raise ValidationError("RFC 9420 §12.4.2: UpdatePath leaf_node_source must be commit")
    if leaf.parent_hash != parent_hash:
        raise ValidationError("RFC 9420 §7.9.2: UpdatePath leaf parent_hash does not match the path")
    leaf.verify(suite, group_id, sender)
    tree.set_leaf(sender, leaf)


def decrypt_update_path(
    suite: CipherSuite,
    tree: RatchetTree,
    keys: PathKeys,
    sender: int,
    path: UpdatePath,
    context: bytes,
    exclude: frozenset[int] = frozenset(),
) -> tuple[bytes, bytes]:
    """Decrypt the path secret meant for ``keys``' owner from a merged path; returns (commit_secret, path_secret).

    ``keys`` gains the private keys of the path nodes above the common ancestor (RFC 9420 §7.5).
    """
    me = keys.leaf_index
    if me == sender:
        raise ValidationError("RFC 9420 §12.4.2: a member cannot process its own UpdatePath")
    fdp = tree.filtered_direct_path(sender)
    index = next((i for i, p in enumerate(fdp) if me in tm.subtree_leaves(p)), None)
    if index is None:
        raise ValidationError("RFC 9420 §7.5: receiver is not under the sender's filtered direct path")
    resolution = tree.resolution(_copath_child(fdp[index], sender), exclude)
    position = next((j for j, x in enumerate(resolution) if x in keys.keys), None)
    if position is None:
        raise CryptoError("RFC 9420 §7.5: no private key for any node in the copath resolution")
    node = path.nodes[index]
    if len(node.encrypted_path_secret) != len(resolution):
        raise ValidationError("RFC 9420 §12.4.2: encrypted_path_secret count differs from the resolution size")
    ct = node.encrypted_path_secret[position]
    secret = suite.decrypt_with_label(
        keys.keys[resolution[position]], UPDATE_PATH_LABEL, context, ct.kem_output, ct.ciphertext
    )
    learned = secret
    keys.forget_direct_path(tree, sender)
    for p, upn in zip(fdp[index:], path.nodes[index:], strict=True):
        sk, pk = node_key_pair(suite, secret)
        if pk != upn.encryption_key:
            raise ValidationError(f"RFC 9420 §7.5: derived public key for node {p} does not match the UpdatePath")
        keys.keys[p] = sk
        secret = suite.derive_secret(secret, b"path")
    return secret, learned
