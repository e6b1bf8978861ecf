"""The secret tree and per-sender hash ratchets (RFC 9420 §9), plus sender-data keys (§6.3.2).

Node secrets are derived lazily from ``encryption_secret`` and deleted as soon as their children exist (§9.2).
Each leaf has a handshake and an application ratchet. A receiver may ask for generations out of order within
``out_of_order_tolerance`` behind the newest one and at most ``maximum_forward_distance`` ahead; every key is
deleted once returned, so a replayed generation raises :class:`GenerationError`.

``SecretTree.to_state`` / ``SecretTree.from_state`` export and restore the whole tree as plain dataclasses
(:class:`SecretTreeState`, :class:`RatchetState`) for persistence; nothing outside this module touches internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from xmtp_core.mls import tree_math
from xmtp_core.mls.cipher_suite import CipherSuite
from xmtp_core.mls.errors import GenerationError, ValidationError

DEFAULT_OUT_OF_ORDER_TOLERANCE = 5
DEFAULT_MAXIMUM_FORWARD_DISTANCE = 1000


class RatchetType(Enum):
    """The two ratchets of each sender: handshake and application (§9.1)."""

    HANDSHAKE = b"handshake"
    APPLICATION = b"application"


@dataclass(frozen=True)
class RatchetKey:
    """The key and nonce of one generation of a ratchet."""

    generation: int
    key: bytes = field(repr=False)
    nonce: bytes = field(repr=False)


@dataclass(frozen=True)
class RatchetState:
    """A :class:`HashRatchet` at rest: the next unused generation, its secret and the keys still stored."""

    generation: int
    secret: bytes = field(repr=False)
    stored_keys: tuple[RatchetKey, ...]  # skipped or fetched-but-not-consumed keys, in insertion order


@dataclass(frozen=True)
class SecretTreeState:
    """A :class:`SecretTree` at rest: undeleted node secrets and the ratchets of leaves already used."""

    n_leaves: int
    node_secrets: tuple[tuple[int, bytes], ...] = field(repr=False)  # (node index, secret)
    ratchets: tuple[tuple[int, RatchetType, RatchetState], ...]  # (leaf index, type, ratchet)


class HashRatchet:
    """One sender's ratchet: ``secret`` is the secret of generation ``generation`` (not yet used)."""

    def __init__(self, cs: CipherSuite, secret: bytes, tolerance: int, max_forward: int) -> None:
        self._cs = cs
        self._secret = secret
        self.generation = 0
        self._tolerance = tolerance
        self._max_forward = max_forward
        self._skipped: dict[int, RatchetKey] = {}

    def to_state(self) -> RatchetState:
        """The ratchet at rest."""
        return RatchetState(self.generation, self._secret, tuple(self._skipped.values()))

    @classmethod
    def from_state(cls, cs: CipherSuite, state: RatchetState, tolerance: int, max_forward: int) -> HashRatchet:
        """A ratchet restored from :meth:`to_state`."""
        if not 0 <= state.generation <= 0xFFFF_FFFF:
            raise ValidationError(f"ratchet generation {state.generation} outside 0..2^32-1 (RFC 9420 §9.1)")
        ratchet = cls(cs, state.secret, tolerance, max_forward)
        ratchet.generation = state.generation
        ratchet._skipped = {key.generation: key for key in state.stored_keys}
        return ratchet

    def _advance(self) -> RatchetKey:
        """The current generation's key, then move on: DeriveTreeSecret's key, nonce and secret (RFC 9420 §9.1)."""
        g = self.generation
        if g >= 0xFFFF_FFFF:
            raise GenerationError("ratchet exhausted: generation would exceed 2^32-1 (RFC 9420 §9.1)")
        cs, secret, context = self._cs, self._secret, g.to_bytes(4, "big")
        current = RatchetKey(
            g,
            cs.expand_with_label(secret, b"key", context, cs.aead_key_len),
            cs.expand_with_label(secret, b"nonce", context, cs.aead_nonce_len),
        )
        self._secret = cs.expand_with_label(secret, b"secret", context, cs.hash_len)
        self.generation = g + 1
        return current

    def next_key(self) -> RatchetKey:
        """Sender side: the key for the next generation; the ratchet then moves past it."""
        return self._advance()

    def key_for(self, generation: int, *, consume: bool = True) -> RatchetKey:
        """Receiver side: the key for ``generation``.

        With ``consume`` (the default) the key is deleted at once. With ``consume=False`` it stays stored until
        :meth:`consume` is called, so a message that fails to decrypt does not burn the key (RFC 9420 §9.2).
        """
        if generation < self.generation:
            return self._take_skipped(generation, remove=consume)
        if generation - self.generation > self._max_forward:
            raise GenerationError(
                f"generation {generation} is more than {self._max_forward} ahead of {self.generation}"
            )
        while self.generation < generation:
            skipped = self._advance()
            if self._tolerance > 0:
                self._skipped[skipped.generation] = skipped
        self._prune(generation)
        key = self._advance()
        if not consume:
            self._skipped[generation] = key
        return key

    def consume(self, generation: int) -> None:
        """Delete the stored key of ``generation`` after a successful decryption."""
        self._take_skipped(generation, remove=True)

    def _take_skipped(self, generation: int, *, remove: bool) -> RatchetKey:
        key = self._skipped.pop(generation, None) if remove else self._skipped.get(generation)
        if key is not None:
            return key
        if generation < self.generation - 1 - self._tolerance:
            raise GenerationError(f"generation {generation} is too old (window {self._tolerance})")
        raise GenerationError(f"generation {generation} was already used or deleted (replay?)")

    def _prune(self, newest: int) -> None:
        floor = newest - self._tolerance
        for g in [g for g in self._skipped if g < floor]:
            del self._skipped[g]


class SecretTree:
    """All senders' ratchets for one epoch."""

    def __init__(
        self,
        cs: CipherSuite,
        encryption_secret: bytes,
        n_leaves: int,
        *,
        out_of_order_tolerance: int = DEFAULT_OUT_OF_ORDER_TOLERANCE,
        maximum_forward_distance: int = DEFAULT_MAXIMUM_FORWARD_DISTANCE,
    ) -> None:
        if n_leaves < 1:
            raise ValidationError("secret tree needs at least one leaf (RFC 9420 §9)")
        if out_of_order_tolerance < 0 or maximum_forward_distance < 0:
            raise ValueError("tolerance and forward distance must be non-negative")
        self._cs = cs
        self.n_leaves = n_leaves
        self._tolerance = out_of_order_tolerance
        self._max_forward = maximum_forward_distance
        self._nodes: dict[int, bytes] = {tree_math.root(n_leaves): encryption_secret}
        self._ratchets: dict[tuple[int, RatchetType], HashRatchet] = {}

    def to_state(self) -> SecretTreeState:
        """Everything needed to continue this epoch's ratchets, so used generations stay used after a restore."""
        ratchets = tuple((leaf, rt, r.to_state()) for (leaf, rt), r in self._ratchets.items())
        return SecretTreeState(self.n_leaves, tuple(self._nodes.items()), ratchets)

    @classmethod
    def from_state(
        cls,
        cs: CipherSuite,
        state: SecretTreeState,
        *,
        out_of_order_tolerance: int = DEFAULT_OUT_OF_ORDER_TOLERANCE,
        maximum_forward_distance: int = DEFAULT_MAXIMUM_FORWARD_DISTANCE,
    ) -> SecretTree:
        """Rebuild a tree saved with :meth:`to_state`; the tolerances are local policy and not part of the state."""
        # The root secret passed here is replaced at once by the saved node secrets.
        tree = cls(
            cs, b"", state.n_leaves,
            out_of_order_tolerance=out_of_order_tolerance, maximum_forward_distance=maximum_forward_distance,
        )  # fmt: skip
        width = tree_math.node_width(state.n_leaves)
        if any(not 0 <= node < width for node, _ in state.node_secrets):
            raise ValidationError(f"secret tree node outside a tree of {state.n_leaves} leaves")
        tree._nodes = dict(state.node_secrets)
        for leaf, rt, ratchet in state.ratchets:
            if not 0 <= leaf < state.n_leaves:
                raise ValidationError(f"ratchet of leaf {leaf} outside a tree of {state.n_leaves} leaves")
            tree._ratchets[(leaf, rt)] = HashRatchet.from_state(cs, ratchet, tree._tolerance, tree._max_forward)
        return tree

    def _leaf_secret(self, leaf: int) -> bytes:
        target = tree_math.leaf_to_node(leaf)
        path = [target, *tree_math.direct_path(target, self.n_leaves)]
        # Find the lowest still-stored ancestor, then derive down, deleting each parent (§9.2).
        start = next((i for i, node in enumerate(path) if node in self._nodes), None)
        if start is None:
            raise GenerationError(f"leaf {leaf} secrets were already derived and deleted")
        for i in range(start, 0, -1):
            node = path[i]
            secret = self._nodes.pop(node)
            self._nodes[tree_math.left(node)] = self._cs.expand_with_label(secret, b"tree", b"left", self._cs.hash_len)
            self._nodes[tree_math.right(node)] = self._cs.expand_with_label(
                secret, b"tree", b"right", self._cs.hash_len
            )
        return self._nodes.pop(target)

    def _init_leaf(self, leaf: int) -> None:
        secret = self._leaf_secret(leaf)
        for rt in RatchetType:
            start = self._cs.expand_with_label(secret, rt.value, b"", self._cs.hash_len)
            self._ratchets[(leaf, rt)] = HashRatchet(self._cs, start, self._tolerance, self._max_forward)

    def ratchet(self, leaf: int, ratchet_type: RatchetType) -> HashRatchet:
        """The ratchet of ``ratchet_type`` for leaf ``leaf``, created on first use."""
        if not 0 <= leaf < self.n_leaves:
            raise ValidationError(f"leaf {leaf} outside a tree of {self.n_leaves} leaves (RFC 9420 §9)")
        if (leaf, ratchet_type) not in self._ratchets:
            self._init_leaf(leaf)
        return self._ratchets[(leaf, ratchet_type)]

    def next_key(self, leaf: int, ratchet_type: RatchetType) -> RatchetKey:
        """Sender side: next unused key of ``leaf``'s ratchet."""
        return self.ratchet(leaf, ratchet_type).next_key()

    def key_for(self, leaf: int, ratchet_type: RatchetType, generation: int, *, consume: bool = True) -> RatchetKey:
        """Receiver side: the key for ``generation``; raises GenerationError if unavailable.

        Pass ``consume=False`` and call :meth:`consume` after the AEAD check succeeds to keep a key that a
        forged message would otherwise burn.
        """
        return self.ratchet(leaf, ratchet_type).key_for(generation, consume=consume)

    def consume(self, leaf: int, ratchet_type: RatchetType, generation: int) -> None:
        """Delete a key fetched with ``consume=False``."""
        self.ratchet(leaf, ratchet_type).consume(generation)


def sender_data_key_nonce(cs: CipherSuite, sender_data_secret: bytes, ciphertext: bytes) -> tuple[bytes, bytes]:
    """Key and nonce that protect a PrivateMessage's SenderData (RFC 9420 §6.3.2)."""
    sample = ciphertext[: cs.hash_len]
    key = cs.expand_with_label(sender_data_secret, b"key", sample, cs.aead_key_len)
    nonce = cs.expand_with_label(sender_data_secret, b"nonce", sample, cs.aead_nonce_len)
    return key, nonce
