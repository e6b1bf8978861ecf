"""A strict reader for the TLS presentation language as MLS uses it (RFC 9420 §2.1): fixed-width
big-endian integers and `opaque x<V>` vectors with the MLS variable-length (QUIC-style) length prefix."""

from __future__ import annotations

from devnode.errors import MalformedData


class TlsReader:
    """Reads values from a byte string front to back; every short read raises `MalformedData`."""

    def __init__(self, data: bytes, what: str = "data") -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._what = what

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def _take(self, n: int) -> memoryview:
        if n > self.remaining:
            raise MalformedData(
                f"{self._what}: truncated (need {n} bytes at offset {self._pos}, have {self.remaining})"
            )
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def uint(self, width: int) -> int:
        return int.from_bytes(self._take(width), "big")

    def u8(self) -> int:
        return self.uint(1)

    def u16(self) -> int:
        return self.uint(2)

    def u32(self) -> int:
        return self.uint(4)

    def u64(self) -> int:
        return self.uint(8)

    def varint(self) -> int:
        """The MLS vector length prefix: 1, 2 or 4 bytes chosen by the top two bits, minimal encoding only."""
        first = self.u8()
        prefix = first >> 6
        if prefix == 3:
            raise MalformedData(f"{self._what}: invalid variable-length integer prefix at offset {self._pos - 1}")
        length = 1 << prefix
        value = first & 0x3F
        for byte in self._take(length - 1):
            value = (value << 8) | byte
        # RFC 9420 §2.1.2: a length MUST use the shortest encoding; anything else is a malformed message.
        if (length == 2 and value < 0x40) or (length == 4 and value < 0x4000):
            raise MalformedData(f"{self._what}: non-minimal variable-length integer at offset {self._pos - length}")
        return value

    def vector(self) -> bytes:
        """An `opaque x<V>`: a varint length followed by that many bytes."""
        return bytes(self._take(self.varint()))

    def sub_reader(self, what: str) -> TlsReader:
        """A reader over the next `<V>` vector, for vectors of structs that must be parsed element by element."""
        return TlsReader(self.vector(), f"{self._what}.{what}")

    def offset(self) -> int:
        return self._pos

    def consumed_since(self, start: int) -> bytes:
        return bytes(self._data[start : self._pos])

    def expect_end(self) -> None:
        if self.remaining:
            raise MalformedData(f"{self._what}: {self.remaining} unexpected trailing bytes")


def encode_varint(value: int) -> bytes:
    """The minimal MLS variable-length encoding of `value` (used by tests and to rebuild signed content)."""
    if value < 0x40:
        return value.to_bytes(1, "big")
    if value < 0x4000:
        return (value | 0x4000).to_bytes(2, "big")
    if value < 0x40000000:
        return (value | 0x80000000).to_bytes(4, "big")
    raise ValueError(f"length {value} too large for an MLS vector")


def encode_vector(data: bytes) -> bytes:
    return encode_varint(len(data)) + data
