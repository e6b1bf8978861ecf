"""Shared base for RFC 9420 wire structs: byte-level ``to_bytes``/``from_bytes`` on top of encode/decode."""

from __future__ import annotations

from typing import Self

from xmtp_core.mls.codec import Reader, Writer


class WireStruct:
    """Mixin for frozen dataclasses that implement ``encode(w)`` and ``decode(r)``."""

    def encode(self, w: Writer) -> None:
        """Write the struct's wire form (RFC 9420's TLS presentation language) to ``w``."""
        raise NotImplementedError

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Read one struct from ``r``; malformed input raises DecodeError."""
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """The struct's wire form."""
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
    """A vector of uint16 values (capability and type lists)."""
    w.vec_items(values, lambda ww, v: ww.u16(v))


def decode_u16_list(r: Reader) -> tuple[int, ...]:
    """Read a vector of uint16 values."""
    return tuple(r.vec_items(lambda rr: rr.u16()))
