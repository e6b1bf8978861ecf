"""Shared base for RFC 9420 wire structs: byte-level ``to_bytes``/``from_bytes`` on top of encode/decode."""

from __future__ import annotations

from typing import Self

from xmtp_core.mls.codec import Reader, Writer


class WireStruct:
    """Mixin for frozen dataclasses that implement ``encode(w)`` and ``decode(r)``."""

    def encode(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def decode(cls, r: Reader) -> Self:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        w = Writer()
        self.encode(w)
        return w.bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode a whole buffer; trailing bytes raise DecodeError."""
        r = Reader(data)
        value = cls.decode(r)
        r.finish()
        return value


def encode_u16_list(w: Writer, values: tuple[int, ...]) -> None:
    w.vec_items(values, lambda ww, v: ww.u16(v))


def decode_u16_list(r: Reader) -> tuple[int, ...]:
    return tuple(r.vec_items(lambda rr: rr.u16()))
