"""TLS presentation-language codec with RFC 9420 §2.1.2 variable-length integers.

``Reader`` decodes from a byte string and raises :class:`DecodeError` on any short read, bad varint or bad
optional flag, never returning partial data. ``Writer`` builds byte strings and range-checks every value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from xmtp_core.mls.errors import DecodeError

T = TypeVar("T")

# RFC 9420 §2.1.2: the top two bits give the length (1, 2 or 4 bytes); 0b11 is reserved.
VARINT_MAX = (1 << 30) - 1


def encode_varint(n: int) -> bytes:
    """Encode ``n`` as the shortest RFC 9420 varint (1, 2 or 4 bytes)."""
    if n < 0 or n > VARINT_MAX:
        raise ValueError(f"varint out of range: {n}")
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return (n | 0x4000).to_bytes(2, "big")
    return (n | 0x8000_0000).to_bytes(4, "big")


def encode_vec(b: bytes) -> bytes:
    """Encode ``opaque data<V>``: varint length, then the bytes."""
    n = len(b)
    if n < 1 << 6:  # the common case, a one-byte length, without the general encoder's checks
        return bytes((n,)) + b
    return encode_varint(n) + bytes(b)


class Reader:
    """Sequential decoder over a byte string."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self._pos = 0

    @property
    def remaining(self) -> int:
        """Bytes not yet read."""
        return len(self._data) - self._pos

    @property
    def position(self) -> int:
        """Offset of the next byte to read."""
        return self._pos

    def raw(self, n: int) -> bytes:
        """The next ``n`` bytes as they are."""
        pos = self._pos
        end = pos + n
        if n < 0:
            raise DecodeError(f"negative read length {n}")
        if end > len(self._data):
            raise DecodeError(f"truncated: need {n} bytes, {len(self._data) - pos} left")
        self._pos = end
        return self._data[pos:end]

    def _uint(self, size: int) -> int:
        return int.from_bytes(self.raw(size), "big")

    def u8(self) -> int:
        """An 8-bit unsigned integer."""
        pos = self._pos
        if pos >= len(self._data):
            raise DecodeError("truncated: need 1 bytes, 0 left")
        self._pos = pos + 1
        return self._data[pos]

    def u16(self) -> int:
        """A 16-bit big-endian unsigned integer."""
        return self._uint(2)

    def u32(self) -> int:
        """A 32-bit big-endian unsigned integer."""
        return self._uint(4)

    def u64(self) -> int:
        """A 64-bit big-endian unsigned integer."""
        return self._uint(8)

    def varint(self) -> int:
        """A §2.1.2 variable-length integer, in its shortest encoding."""
        if self._pos >= len(self._data):
            raise DecodeError("truncated: varint missing")
        first = self._data[self._pos]
        prefix = first >> 6
        if prefix == 0:
            self._pos += 1
            return first
        if prefix == 3:
            raise DecodeError("invalid varint prefix 0b11")
        size = 1 << prefix
        value = self._uint(size) & ((1 << (8 * size - 2)) - 1)
        # The RFC requires the minimum encoding; a longer form is an error, not an alias.
        if size > 1 and value < 1 << (8 * (size >> 1) - 2):
            raise DecodeError(f"non-minimal varint encoding of {value}")
        return value

    def vec(self) -> bytes:
        """A varint-length-prefixed byte vector."""
        data, pos = self._data, self._pos
        if pos < len(data) and data[pos] < 1 << 6:  # one-byte length, the common case
            end = pos + 1 + data[pos]
            if end > len(data):
                raise DecodeError(f"truncated: need {data[pos]} bytes, {len(data) - pos - 1} left")
            self._pos = end
            return data[pos + 1 : end]
        return self.raw(self.varint())

    def sub(self, n: int) -> Reader:
        """A Reader over the next ``n`` bytes."""
        return Reader(self.raw(n))

    def vec_items(self, fn: Callable[[Reader], T]) -> list[T]:
        """The items ``read`` decodes from a varint-length-prefixed vector."""
        inner = self.sub(self.varint())
        items: list[T] = []
        while inner.remaining:
            items.append(fn(inner))
        return items

    def optional(self, fn: Callable[[Reader], T]) -> T | None:
        """An ``optional<T>``: None or the value ``read`` decodes."""
        flag = self.u8()
        if flag == 0:
            return None
        if flag != 1:
            raise DecodeError(f"invalid optional presence flag {flag}")
        return fn(self)

    def finish(self) -> None:
        """DecodeError if any byte is left unread."""
        if self.remaining:
            raise DecodeError(f"{self.remaining} trailing bytes")


class Writer:
    """Append-only encoder."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def _uint(self, v: int, size: int) -> Writer:
        # int.to_bytes itself rejects negatives and values too wide (OverflowError) and non-integers.
        try:
            self._buf += v.to_bytes(size, "big")
        except (OverflowError, AttributeError, TypeError):
            raise ValueError(f"value {v!r} does not fit in uint{8 * size}") from None
        return self

    def u8(self, v: int) -> Writer:
        """Append an 8-bit unsigned integer."""
        return self._uint(v, 1)

    def u16(self, v: int) -> Writer:
        """Append a 16-bit big-endian unsigned integer."""
        return self._uint(v, 2)

    def u32(self, v: int) -> Writer:
        """Append a 32-bit big-endian unsigned integer."""
        return self._uint(v, 4)

    def u64(self, v: int) -> Writer:
        """Append a 64-bit big-endian unsigned integer."""
        return self._uint(v, 8)

    def varint(self, v: int) -> Writer:
        """Append a §2.1.2 variable-length integer."""
        self._buf += encode_varint(v)
        return self

    def raw(self, b: bytes) -> Writer:
        """Append bytes as they are."""
        self._buf += b
        return self

    def vec(self, b: bytes) -> Writer:
        """Append a varint-length-prefixed byte vector."""
        n = len(b)
        if n < 1 << 6:
            self._buf.append(n)
        else:
            self._buf += encode_varint(n)
        self._buf += b
        return self

    def vec_items(self, items: Iterable[T], fn: Callable[[Writer, T], object]) -> Writer:
        """Append items, each written by ``write``, as one varint-length-prefixed vector."""
        inner = Writer()
        for item in items:
            fn(inner, item)
        return self.vec(inner.bytes())

    def optional(self, value: T | None, fn: Callable[[Writer, T], object]) -> Writer:
        """Append an ``optional<T>``: a presence byte, then the value if present."""
        if value is None:
            return self.u8(0)
        self.u8(1)
        fn(self, value)
        return self

    def bytes(self) -> bytes:
        """Everything written so far."""
        return bytes(self._buf)
