"""GroupContext (RFC 9420 §8.1): the per-epoch summary every member agrees on."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Self

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.extensions import Extension, decode_extensions, encode_extensions


@dataclass(frozen=True)
class GroupContext(WireStruct):
    """The summary of an epoch every member agrees on (RFC 9420 §8.1)."""

    version: int
    cipher_suite: int
    group_id: bytes
    epoch: int
    tree_hash: bytes
    confirmed_transcript_hash: bytes
    extensions: tuple[Extension, ...] = ()

    @cached_property
    def _encoding(self) -> bytes:
        # Every message of an epoch signs or verifies over the context; the instance is frozen, so encode once.
        w = Writer()
        w.u16(self.version)
        w.u16(self.cipher_suite)
        w.vec(self.group_id)
        w.u64(self.epoch)
        w.vec(self.tree_hash)
        w.vec(self.confirmed_transcript_hash)
        encode_extensions(w, self.extensions)
        return w.bytes()

    def encode(self, w: Writer) -> None:
        w.raw(self._encoding)

    def to_bytes(self) -> bytes:
        return self._encoding

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.u16(), r.u16(), r.vec(), r.u64(), r.vec(), r.vec(), decode_extensions(r))
