"""HPKECiphertext, UpdatePathNode and UpdatePath wire structs (RFC 9420 §7.6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.leaf_node import LeafNode


@dataclass(frozen=True)
class HPKECiphertext(WireStruct):
    """An HPKE ciphertext: encapsulated key and ciphertext (§7.6)."""

    kem_output: bytes
    ciphertext: bytes

    def encode(self, w: Writer) -> None:
        w.vec(self.kem_output)
        w.vec(self.ciphertext)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.vec(), r.vec())


@dataclass(frozen=True)
class UpdatePathNode(WireStruct):
    """A new parent public key and the path secret encrypted to each copath resolution node."""

    encryption_key: bytes
    encrypted_path_secret: tuple[HPKECiphertext, ...]

    def encode(self, w: Writer) -> None:
        w.vec(self.encryption_key)
        w.vec_items(self.encrypted_path_secret, lambda ww, c: c.encode(ww))

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.vec(), tuple(r.vec_items(HPKECiphertext.decode)))


@dataclass(frozen=True)
class UpdatePath(WireStruct):
    """A committer's new leaf and path nodes (RFC 9420 §7.6)."""

    leaf_node: LeafNode
    nodes: tuple[UpdatePathNode, ...]

    def encode(self, w: Writer) -> None:
        self.leaf_node.encode(w)
        w.vec_items(self.nodes, lambda ww, n: n.encode(ww))

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(LeafNode.decode(r), tuple(r.vec_items(UpdatePathNode.decode)))
