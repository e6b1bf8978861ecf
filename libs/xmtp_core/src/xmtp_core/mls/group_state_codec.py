"""Binary persistence of a :class:`~xmtp_core.mls.group_state.GroupState` such as a
:class:`~xmtp_core.mls.group.Group` (this library's own format, versioned).

Everything needed to continue the group is stored: current epoch secrets, tree, private path keys, the
secret-tree ratchets (so used generations stay used), retained past epochs and pending proposals. The secret
tree goes through its public :class:`~xmtp_core.mls.secret_tree.SecretTreeState` export.
"""

from __future__ import annotations

from typing import TypeVar

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls.cipher_suite import CipherSuite, get_cipher_suite
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.errors import DecodeError
from xmtp_core.mls.framing import Sender
from xmtp_core.mls.group_context import GroupContext
from xmtp_core.mls.group_state import EpochState, GroupConfig, GroupState, PastEpoch, PendingProposal
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.secret_tree import RatchetKey, RatchetState, RatchetType, SecretTree, SecretTreeState
from xmtp_core.mls.treekem import PathKeys

FORMAT_VERSION = 1
_SECRET_FIELDS = (
    "joiner_secret", "welcome_secret", "epoch_secret", "sender_data_secret", "encryption_secret",
    "exporter_secret", "external_secret", "confirmation_key", "membership_key", "resumption_psk",
    "epoch_authenticator", "init_secret",
)  # fmt: skip
_RATCHET_TYPES = {rt.value: rt for rt in RatchetType}

S = TypeVar("S", bound=GroupState)


def encode_group(group: GroupState) -> bytes:
    """The whole state of ``group``, secrets included: store it encrypted."""
    w = Writer()
    w.u8(FORMAT_VERSION)
    w.u16(group.suite.suite_id)
    w.vec(group.signature_priv)
    _encode_config(w, group.config)
    _encode_epoch(w, group.epoch_state)
    w.vec_items(group.past_epochs, _encode_past)
    w.vec_items(group.pending_proposals, _encode_pending)
    w.vec_items(group.pending_update_keys.items(), _encode_pair)
    w.vec_items(group.external_psks.items(), _encode_pair)
    w.u8(1 if group.active else 0)
    return w.bytes()


def decode_group(data: bytes, cls: type[S]) -> S:
    """A ``cls`` (GroupState or a subclass such as Group) restored from :func:`encode_group` output."""
    r = Reader(data)
    if r.u8() != FORMAT_VERSION:
        raise DecodeError("unknown group state format version")
    suite = get_cipher_suite(r.u16())
    signature_priv = r.vec()
    config = _decode_config(r)
    state = _decode_epoch(r, suite, config)
    past = r.vec_items(lambda rr: _decode_past(rr, suite, config))
    pending = r.vec_items(_decode_pending)
    update_keys = dict(r.vec_items(_decode_pair))
    psks = dict(r.vec_items(_decode_pair))
    active = r.u8() == 1
    r.finish()
    return cls(suite, signature_priv, state, config, past, pending, update_keys, psks, active)


def _encode_pair(w: Writer, pair: tuple[bytes, bytes]) -> None:
    w.vec(pair[0])
    w.vec(pair[1])


def _decode_pair(r: Reader) -> tuple[bytes, bytes]:
    return r.vec(), r.vec()


def _encode_indexed(w: Writer, item: tuple[int, bytes]) -> None:
    """A (leaf or node index, bytes) pair, as keyed maps of keys and secrets are stored."""
    w.u32(item[0]).vec(item[1])


def _decode_indexed(r: Reader) -> tuple[int, bytes]:
    return r.u32(), r.vec()


def _encode_config(w: Writer, c: GroupConfig) -> None:
    w.u32(c.max_past_epochs).u32(c.padding).u8(int(c.encrypt_handshake)).u8(int(c.ratchet_tree_extension))
    w.u32(c.out_of_order_tolerance).u32(c.maximum_forward_distance)


def _decode_config(r: Reader) -> GroupConfig:
    return GroupConfig(r.u32(), r.u32(), r.u8() == 1, r.u8() == 1, r.u32(), r.u32())


def _encode_epoch(w: Writer, s: EpochState) -> None:
    s.context.encode(w)
    w.vec(s.tree.to_extension_data())
    w.u32(s.path_keys.leaf_index)
    w.vec_items(s.path_keys.keys.items(), _encode_indexed)
    for name in _SECRET_FIELDS:
        w.vec(getattr(s.secrets, name))
    _encode_secret_tree(w, s.secret_tree)
    w.vec(s.interim_transcript_hash)
    w.vec(s.confirmation_tag)


def _decode_epoch(r: Reader, suite: CipherSuite, config: GroupConfig) -> EpochState:
    context = GroupContext.decode(r)
    tree = RatchetTree.from_extension_data(r.vec())
    keys = PathKeys(r.u32(), dict(r.vec_items(_decode_indexed)))
    secrets = ks.EpochSecrets(**{name: r.vec() for name in _SECRET_FIELDS})
    secret_tree = _decode_secret_tree(r, suite, config)
    return EpochState(context, tree, keys, secrets, secret_tree, r.vec(), r.vec())


def _encode_past(w: Writer, p: PastEpoch) -> None:
    p.context.encode(w)
    _encode_secret_tree(w, p.secret_tree)
    w.vec(p.sender_data_secret)
    w.vec_items(p.signature_keys.items(), _encode_indexed)
    w.vec(p.resumption_psk)


def _decode_past(r: Reader, suite: CipherSuite, config: GroupConfig) -> PastEpoch:
    context = GroupContext.decode(r)
    secret_tree = _decode_secret_tree(r, suite, config)
    sd = r.vec()
    keys = dict(r.vec_items(_decode_indexed))
    return PastEpoch(context, secret_tree, sd, keys, r.vec())


def _encode_pending(w: Writer, p: PendingProposal) -> None:
    w.vec(p.ref)
    p.proposal.encode(w)
    p.sender.encode(w)


def _decode_pending(r: Reader) -> PendingProposal:
    return PendingProposal(r.vec(), Proposal.decode(r), Sender.decode(r))


def _encode_secret_tree(w: Writer, tree: SecretTree) -> None:
    state = tree.to_state()
    w.u32(state.n_leaves)
    w.vec_items(state.node_secrets, _encode_indexed)
    w.vec_items(state.ratchets, _encode_ratchet)


def _encode_ratchet(w: Writer, item: tuple[int, RatchetType, RatchetState]) -> None:
    leaf, rt, ratchet = item
    w.u32(leaf).vec(rt.value).u32(ratchet.generation).vec(ratchet.secret)
    w.vec_items(ratchet.stored_keys, lambda ww, k: ww.u32(k.generation).vec(k.key).vec(k.nonce))


def _decode_secret_tree(r: Reader, suite: CipherSuite, config: GroupConfig) -> SecretTree:
    n_leaves = r.u32()
    nodes = tuple(r.vec_items(_decode_indexed))
    ratchets = tuple(r.vec_items(_decode_ratchet))
    return SecretTree.from_state(
        suite, SecretTreeState(n_leaves, nodes, ratchets),
        out_of_order_tolerance=config.out_of_order_tolerance,
        maximum_forward_distance=config.maximum_forward_distance,
    )  # fmt: skip


def _decode_ratchet(r: Reader) -> tuple[int, RatchetType, RatchetState]:
    leaf = r.u32()
    rt = _RATCHET_TYPES.get(r.vec())
    if rt is None:
        raise DecodeError("unknown ratchet type in group state")
    generation = r.u32()
    secret = r.vec()
    stored = tuple(r.vec_items(lambda rr: RatchetKey(rr.u32(), rr.vec(), rr.vec())))
    return leaf, rt, RatchetState(generation, secret, stored)
