"""Joining a group from a Welcome (RFC 9420 §12.4.3.1): decrypt the group secrets and GroupInfo, adopt and
check the ratchet tree, derive the epoch and learn the path secret the committer shared. Size limits and
lifetimes the caller gives are checked before the tree's hashes and signatures."""

from __future__ import annotations

import hmac
from typing import TypeVar

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls import tree_math as tm
from xmtp_core.mls.cipher_suite import CipherSuite, get_cipher_suite
from xmtp_core.mls.errors import LimitError, ValidationError
from xmtp_core.mls.extensions import EXT_RATCHET_TREE, PROTOCOL_MLS10, find_extension
from xmtp_core.mls.framing import MLSMessage
from xmtp_core.mls.group_info import GroupInfo
from xmtp_core.mls.group_state import GroupConfig, GroupState, new_epoch_state
from xmtp_core.mls.kem import forget_private_keys
from xmtp_core.mls.own_key_package import OwnKeyPackage
from xmtp_core.mls.proposal_validation import required_capabilities
from xmtp_core.mls.psk import resolve_psk_secret
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.treekem import PathKeys, node_key_pair
from xmtp_core.mls.welcome import Welcome
from xmtp_core.mls.welcome_crypto import decrypt_group_info, decrypt_group_secrets

S = TypeVar("S", bound=GroupState)


def join_from_welcome(
    cls: type[S],
    welcome: Welcome | MLSMessage,
    bundle: OwnKeyPackage,
    *,
    ratchet_tree: RatchetTree | None,
    external_psks: dict[bytes, bytes] | None,
    config: GroupConfig | None,
    max_leaves: int | None,
    now: int | None,
) -> S:
    """A ``cls`` (a GroupState) for the group a Welcome to ``bundle``'s KeyPackage opens (see ``Group.join``)."""
    if isinstance(welcome, MLSMessage):
        body = welcome.body
        if not isinstance(body, Welcome):
            raise ValidationError("RFC 9420 §12.4.3: message is not a Welcome")
        welcome = body
    kp = bundle.key_package
    suite = get_cipher_suite(kp.cipher_suite)
    psks_known = dict(external_psks or {})
    secrets_in = decrypt_group_secrets(suite, welcome, kp.ref(suite), bundle.init_priv)
    psk = resolve_psk_secret(suite, secrets_in.psks, psks_known, {}, b"")
    info = decrypt_group_info(suite, welcome, secrets_in.joiner_secret, psk)
    context = info.group_context
    if context.cipher_suite != suite.suite_id or context.version != PROTOCOL_MLS10:
        raise ValidationError("RFC 9420 §12.4.3.1: GroupInfo cipher suite or version differs from the KeyPackage")
    tree = joined_tree(suite, info, ratchet_tree, max_leaves=max_leaves, now=now)
    own = next((i for i, leaf in tree.leaves() if leaf == kp.leaf_node), None)
    if own is None:
        raise ValidationError("RFC 9420 §12.4.3.1: own KeyPackage leaf not found in the tree")
    secrets = ks.epoch_secrets_from_joiner(suite, secrets_in.joiner_secret, psk, context.to_bytes())
    keys = PathKeys(own, {tm.leaf_to_node(own): bundle.encryption_priv})
    cfg = config or GroupConfig()
    state = new_epoch_state(suite, cfg, context, tree, keys, secrets)
    if not hmac.compare_digest(state.confirmation_tag, info.confirmation_tag):
        raise ValidationError("RFC 9420 §12.4.3.1: GroupInfo confirmation_tag does not verify")
    if secrets_in.path_secret is not None:
        _learn_path_secret(suite, tree, keys, info.signer, secrets_in.path_secret)
    forget_private_keys([bundle.init_priv])  # a KeyPackage, so its init key, is used once (RFC 9420 §10)
    return cls(suite, bundle.signature_priv, state, cfg, external_psks=psks_known)


def joined_tree(
    suite: CipherSuite,
    info: GroupInfo,
    given: RatchetTree | None,
    *,
    max_leaves: int | None = None,
    now: int | None = None,
) -> RatchetTree:
    """The tree a joiner adopts: from the GroupInfo or ``given``, signature, hash and contents checked."""
    context = info.group_context
    tree = _tree_from_group_info(info, given)
    if max_leaves is not None and tree.leaf_span() > max_leaves:
        raise LimitError(f"tree has a member beyond leaf index {max_leaves - 1}")
    signer = tree.leaf(info.signer)
    if signer is None:
        raise ValidationError("RFC 9420 §12.4.3.1: GroupInfo signer is not a member")
    info.verify(suite, signer.signature_key)
    if tree.tree_hash(suite) != context.tree_hash:
        raise ValidationError("RFC 9420 §12.4.3.1: ratchet tree hash differs from the GroupContext tree_hash")
    tree.validate(suite, context.group_id, required_capabilities(context.extensions), now=now)
    return tree


def _tree_from_group_info(info: GroupInfo, given: RatchetTree | None) -> RatchetTree:
    ext = find_extension(info.extensions, EXT_RATCHET_TREE)
    if ext is not None:
        return RatchetTree.from_extension_data(ext.extension_data)
    if given is None:
        raise ValidationError("RFC 9420 §12.4.3.3: GroupInfo has no ratchet_tree and none was supplied")
    return given.copy()


def _learn_path_secret(suite: CipherSuite, tree: RatchetTree, keys: PathKeys, signer: int, secret: bytes) -> None:
    """Derive keys from the Welcome's path_secret up the committer's filtered direct path (§12.4.3.1)."""
    ancestor = tm.leaf_common_ancestor(keys.leaf_index, signer)
    fdp = tree.filtered_direct_path(signer)
    if ancestor not in fdp:
        raise ValidationError("RFC 9420 §12.4.3.1: path_secret's node is not on the committer's filtered path")
    for p in fdp[fdp.index(ancestor) :]:
        sk, pk = node_key_pair(suite, secret)
        node = tree.node(p)
        if node is None or node.encryption_key != pk:
            raise ValidationError(f"RFC 9420 §12.4.3.1: path_secret does not match the public key of node {p}")
        keys.keys[p] = sk
        secret = suite.derive_secret(secret, b"path")
