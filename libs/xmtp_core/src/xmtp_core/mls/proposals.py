"""Proposals, ProposalOrRef and Commit wire structs (RFC 9420 §12.1, §12.4); unknown proposal types carried.

A proposal is one frozen ``Proposal`` whose ``proposal_type`` selects which body field is meaningful. Types
this implementation does not know are carried as an opaque vector body (the convention of the extensions
framework for custom proposals) so they round-trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Self, TypeVar

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.errors import DecodeError
from xmtp_core.mls.extensions import Extension, decode_extensions, encode_extensions
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.leaf_node import LeafNode
from xmtp_core.mls.psk import PreSharedKeyID
from xmtp_core.mls.update_path import UpdatePath

T = TypeVar("T")

ADD = 1
UPDATE = 2
REMOVE = 3
PSK = 4
REINIT = 5
EXTERNAL_INIT = 6
GROUP_CONTEXT_EXTENSIONS = 7
# draft-ietf-mls-extensions AppDataUpdate; not a default type, so members must advertise it.
APP_DATA_UPDATE = 8
APP_DATA_OP_UPDATE = 1
APP_DATA_OP_REMOVE = 2
DEFAULT_PROPOSAL_TYPES_SET = frozenset({ADD, UPDATE, REMOVE, PSK, REINIT, EXTERNAL_INIT, GROUP_CONTEXT_EXTENSIONS})


@dataclass(frozen=True)
class ReInit(WireStruct):
    """The body of a ReInit proposal: the group to reinitialise into (§12.1.5)."""

    group_id: bytes
    version: int
    cipher_suite: int
    extensions: tuple[Extension, ...]

    def encode(self, w: Writer) -> None:
        w.vec(self.group_id)
        w.u16(self.version)
        w.u16(self.cipher_suite)
        encode_extensions(w, self.extensions)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.vec(), r.u16(), r.u16(), decode_extensions(r))


@dataclass(frozen=True)
class Proposal(WireStruct):
    """One proposal; ``proposal_type`` says which body field holds its content (§12.1)."""

    proposal_type: int
    key_package: KeyPackage | None = None  # add
    leaf_node: LeafNode | None = None  # update
    removed: int = 0  # remove
    psk: PreSharedKeyID | None = None  # psk
    reinit: ReInit | None = None  # reinit
    kem_output: bytes = b""  # external_init
    extensions: tuple[Extension, ...] = ()  # group_context_extensions
    component_id: int = 0  # app_data_update
    app_data_op: int = 0  # app_data_update
    app_data: bytes = b""  # app_data_update (op update)
    body: bytes = b""  # unknown types

    @classmethod
    def add(cls, key_package: KeyPackage) -> Proposal:
        """An Add proposal for ``key_package``."""
        return cls(ADD, key_package=key_package)

    @classmethod
    def update(cls, leaf_node: LeafNode) -> Proposal:
        """An Update proposal with ``leaf_node``."""
        return cls(UPDATE, leaf_node=leaf_node)

    @classmethod
    def remove(cls, leaf_index: int) -> Proposal:
        """A Remove proposal for leaf ``leaf_index``."""
        return cls(REMOVE, removed=leaf_index)

    @classmethod
    def group_context_extensions(cls, extensions: tuple[Extension, ...]) -> Proposal:
        """A GroupContextExtensions proposal setting ``extensions``."""
        return cls(GROUP_CONTEXT_EXTENSIONS, extensions=extensions)

    def encode_body(self, w: Writer) -> None:
        """Append the proposal's body (without its type)."""
        t = self.proposal_type
        if t == ADD:
            _need(self.key_package, t).encode(w)
        elif t == UPDATE:
            _need(self.leaf_node, t).encode(w)
        elif t == REMOVE:
            w.u32(self.removed)
        elif t == PSK:
            _need(self.psk, t).encode(w)
        elif t == REINIT:
            _need(self.reinit, t).encode(w)
        elif t == EXTERNAL_INIT:
            w.vec(self.kem_output)
        elif t == GROUP_CONTEXT_EXTENSIONS:
            encode_extensions(w, self.extensions)
        elif t == APP_DATA_UPDATE:
            w.u16(self.component_id)
            w.u8(self.app_data_op)
            if self.app_data_op == APP_DATA_OP_UPDATE:
                w.vec(self.app_data)
        else:
            w.vec(self.body)

    def encode(self, w: Writer) -> None:
        w.u16(self.proposal_type)
        self.encode_body(w)

    @classmethod
    def decode_body(cls, t: int, r: Reader) -> Self:
        """Read the body of a proposal of type ``t``."""
        if t == ADD:
            return cls(t, key_package=KeyPackage.decode(r))
        if t == UPDATE:
            return cls(t, leaf_node=LeafNode.decode(r))
        if t == REMOVE:
            return cls(t, removed=r.u32())
        if t == PSK:
            return cls(t, psk=PreSharedKeyID.decode(r))
        if t == REINIT:
            return cls(t, reinit=ReInit.decode(r))
        if t == EXTERNAL_INIT:
            return cls(t, kem_output=r.vec())
        if t == GROUP_CONTEXT_EXTENSIONS:
            return cls(t, extensions=decode_extensions(r))
        if t == APP_DATA_UPDATE:
            return cls._decode_app_data_update(r)
        return cls(t, body=r.vec())

    @classmethod
    def _decode_app_data_update(cls, r: Reader) -> Self:
        """AppDataUpdate {uint16 component_id; uint8 op; select(op) update: opaque update<V>; remove: {}}.

        The 16-bit ComponentID follows OpenMLS, whose wire format the deployed clients use.
        """
        component_id, op = r.u16(), r.u8()
        if op == APP_DATA_OP_UPDATE:
            return cls(APP_DATA_UPDATE, component_id=component_id, app_data_op=op, app_data=r.vec())
        if op == APP_DATA_OP_REMOVE:
            return cls(APP_DATA_UPDATE, component_id=component_id, app_data_op=op)
        raise DecodeError(f"unknown AppDataUpdate operation {op}")

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls.decode_body(r.u16(), r)


def _need(value: T | None, proposal_type: int) -> T:
    if value is None:
        raise DecodeError(f"proposal of type {proposal_type} lacks its body")
    return value


POR_PROPOSAL = 1
POR_REFERENCE = 2


@dataclass(frozen=True)
class ProposalOrRef(WireStruct):
    """A proposal covered by a commit, by value or by reference (§12.4)."""

    proposal: Proposal | None = None
    reference: bytes | None = None

    def encode(self, w: Writer) -> None:
        if self.proposal is not None:
            w.u8(POR_PROPOSAL)
            self.proposal.encode(w)
        elif self.reference is not None:
            w.u8(POR_REFERENCE)
            w.vec(self.reference)
        else:
            raise DecodeError("ProposalOrRef holds neither a proposal nor a reference")

    @classmethod
    def decode(cls, r: Reader) -> Self:
        kind = r.u8()
        if kind == POR_PROPOSAL:
            return cls(proposal=Proposal.decode(r))
        if kind == POR_REFERENCE:
            return cls(reference=r.vec())
        raise DecodeError(f"unknown ProposalOrRef type {kind}")


@dataclass(frozen=True)
class Commit(WireStruct):
    """A commit: the proposals it covers and an optional UpdatePath (§12.4)."""

    proposals: tuple[ProposalOrRef, ...] = ()
    path: UpdatePath | None = None

    @cached_property
    def _encoding(self) -> bytes:
        # A commit is encoded to sign it, for the transcript hash and on the wire; with a path to a large blank
        # tree that is hundreds of ciphertexts each time. The instance is frozen, so encode once.
        w = Writer()
        w.vec_items(self.proposals, lambda ww, p: p.encode(ww))
        w.optional(self.path, lambda ww, p: p.encode(ww))
        return w.bytes()

    def encode(self, w: Writer) -> None:
        w.raw(self._encoding)

    def to_bytes(self) -> bytes:
        return self._encoding

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(tuple(r.vec_items(ProposalOrRef.decode)), r.optional(UpdatePath.decode))
