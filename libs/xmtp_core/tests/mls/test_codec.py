"""TLS/varint codec (RFC 9420 §2.1.2): round trips, range checks and every malformed-input error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from xmtp_core.mls.codec import VARINT_MAX, Reader, Writer, encode_varint, encode_vec
from xmtp_core.mls.errors import DecodeError, MLSError


@pytest.mark.parametrize(
    ("value", "encoded"),
    [(0, "00"), (63, "3f"), (64, "4040"), (16383, "7fff"), (16384, "80004000"), (VARINT_MAX, "bfffffff")],
)
def test_varint_boundaries(value: int, encoded: str) -> None:
    assert encode_varint(value).hex() == encoded
    r = Reader(bytes.fromhex(encoded))
    assert r.varint() == value
    r.finish()


@pytest.mark.parametrize("encoded", ["4000", "403f", "80000000", "80003fff", "40 01".replace(" ", "")])
def test_non_minimal_varint_rejected(encoded: str) -> None:
    with pytest.raises(DecodeError, match="non-minimal"):
        Reader(bytes.fromhex(encoded)).varint()


def test_varint_prefix_11_rejected() -> None:
    with pytest.raises(DecodeError, match="0b11"):
        Reader(bytes.fromhex("c000000000000000")).varint()


@pytest.mark.parametrize("value", [-1, VARINT_MAX + 1])
def test_varint_out_of_range(value: int) -> None:
    with pytest.raises(ValueError):
        encode_varint(value)


@pytest.mark.parametrize(("method", "size"), [("u8", 1), ("u16", 2), ("u32", 4), ("u64", 8)])
def test_uint_range_checks(method: str, size: int) -> None:
    getattr(Writer(), method)((1 << (8 * size)) - 1)
    with pytest.raises(ValueError):
        getattr(Writer(), method)(1 << (8 * size))
    with pytest.raises(ValueError):
        getattr(Writer(), method)(-1)


@pytest.mark.parametrize(
    ("data", "op"),
    [
        (b"", lambda r: r.u8()),
        (b"\x01", lambda r: r.u16()),
        (b"\x01\x02\x03", lambda r: r.u32()),
        (b"\x00" * 7, lambda r: r.u64()),
        (b"", lambda r: r.varint()),
        (b"\x40", lambda r: r.varint()),
        (b"\x05abcd", lambda r: r.vec()),
        (b"\x03\x01a", lambda r: r.vec_items(lambda rr: rr.vec())),
        (b"\x02\x01", lambda r: r.vec_items(lambda rr: rr.vec())),
        (b"\x01", lambda r: r.optional(lambda rr: rr.u8())),
        (b"abc", lambda r: r.raw(4)),
        (b"abc", lambda r: r.sub(4)),
    ],
)
def test_truncated_input_raises(data: bytes, op: object) -> None:
    r = Reader(data)
    with pytest.raises(DecodeError):
        op(r)  # type: ignore[operator]


def test_failed_read_consumes_nothing() -> None:
    r = Reader(b"\x05abc")
    r.u8()
    with pytest.raises(DecodeError):
        r.raw(4)
    assert r.remaining == 3
    assert r.raw(3) == b"abc"


def test_trailing_bytes_raise_on_finish() -> None:
    r = Reader(b"\x01\x02")
    assert r.u8() == 1
    with pytest.raises(DecodeError, match="trailing"):
        r.finish()


def test_optional_flag_must_be_0_or_1() -> None:
    assert Reader(b"\x00").optional(lambda r: r.u8()) is None
    assert Reader(b"\x01\x07").optional(lambda r: r.u8()) == 7
    with pytest.raises(DecodeError, match="presence"):
        Reader(b"\x02\x07").optional(lambda r: r.u8())


def test_decode_error_is_mls_error() -> None:
    assert issubclass(DecodeError, MLSError)


def test_writer_layout() -> None:
    w = Writer().u8(1).u16(2).u32(3).u64(4).varint(300).vec(b"xy")
    w.vec_items([b"a", b"bc"], lambda ww, item: ww.vec(item)).optional(None, Writer.vec).optional(b"z", Writer.vec)
    assert w.bytes().hex() == "010002000000030000000000000004412c0278790501610262630001017a"
    assert encode_vec(b"abc") == b"\x03abc"


@given(st.integers(min_value=0, max_value=VARINT_MAX))
def test_varint_round_trip(value: int) -> None:
    data = encode_varint(value)
    assert len(data) == (1 if value < 64 else 2 if value < 16384 else 4)
    r = Reader(data)
    assert r.varint() == value
    r.finish()


@given(
    st.integers(0, 255),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF_FFFF),
    st.integers(0, 0xFFFF_FFFF_FFFF_FFFF),
    st.binary(max_size=300),
    st.lists(st.binary(max_size=70), max_size=10),
    st.none() | st.binary(max_size=10),
)
def test_struct_round_trip(a: int, b: int, c: int, d: int, blob: bytes, items: list[bytes], opt: bytes | None) -> None:
    w = Writer().u8(a).u16(b).u32(c).u64(d).vec(blob)
    data = w.vec_items(items, lambda ww, x: ww.vec(x)).optional(opt, lambda ww, x: ww.vec(x)).bytes()
    r = Reader(data)
    assert (r.u8(), r.u16(), r.u32(), r.u64(), r.vec()) == (a, b, c, d, blob)
    assert r.vec_items(lambda rr: rr.vec()) == items
    assert r.optional(lambda rr: rr.vec()) == opt
    r.finish()
    # Every strict prefix must fail to decode rather than yield partial data.
    if data:
        cut = Reader(data[: len(data) - 1])
        with pytest.raises(DecodeError):
            cut.u8(), cut.u16(), cut.u32(), cut.u64(), cut.vec()
            cut.vec_items(lambda rr: rr.vec())
            cut.optional(lambda rr: rr.vec())
            cut.finish()
