"""Ratchet-tree node wire structs (RFC 9420 §7.1, §12.4.3.3): ParentNode, Node and the ratchet_tree
extension body (a vector of optional nodes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.errors import DecodeError
from xmtp_core.mls.leaf_node import LeafNode

NODE_LEAF = 1
NODE_PARENT = 2


@dataclass(frozen=True)
class ParentNode(WireStruct):
    """A parent node: HPKE public key, parent hash and unmerged leaves (RFC 9420 §7.1)."""

    encryption_key: bytes
    parent_hash: bytes = b""
    unmerged_leaves: tuple[int, ...] = ()

    def encode(self, w: Writer) -> None:
        w.vec(self.encryption_key)
        w.vec(self.parent_hash)
        w.vec_items(self.unmerged_leaves, lambda ww, i: ww.u32(i))

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.vec(), r.vec(), tuple(r.vec_items(lambda rr: rr.u32())))


Node = LeafNode | ParentNode


def encode_node(w: Writer, node: Node) -> None:
    """Append a node with its type byte."""
    if isinstance(node, LeafNode):
        w.u8(NODE_LEAF)
    else:
        w.u8(NODE_PARENT)
    node.encode(w)


def decode_node(r: Reader) -> Node:
    """Read a node with its type byte."""
    t = r.u8()
    if t == NODE_LEAF:
        return LeafNode.decode(r)
    if t == NODE_PARENT:
        return ParentNode.decode(r)
    raise DecodeError(f"unknown node type {t}")


def encode_ratchet_tree(nodes: list[Node | None]) -> bytes:
    """ratchet_tree extension data; trailing blank nodes are dropped as §12.4.3.3 requires."""
    end = len(nodes)
    while end > 0 and nodes[end - 1] is None:
        end -= 1
    w = Writer()

    def encode_slot(ww: Writer, node: Node | None) -> None:
        # Written by hand: mypy joins the Node union to WireStruct when inferring Writer.optional's type.
        if node is None:
            ww.u8(0)
        else:
            ww.u8(1)
            encode_node(ww, node)

    w.vec_items(nodes[:end], encode_slot)
    return w.bytes()


def decode_ratchet_tree(data: bytes) -> list[Node | None]:
    """The nodes of ratchet_tree extension data; empty or trailing-blank trees are refused."""
    r = Reader(data)
    nodes = r.vec_items(lambda rr: rr.optional(decode_node))
    r.finish()
    if not nodes or nodes[-1] is None:
        raise DecodeError("RFC 9420 §12.4.3.3: ratchet_tree must not be empty or end in a blank node")
    return nodes
