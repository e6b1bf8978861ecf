"""Received content is bounded by XMTP's transport cap: before decompression, after it, and serialized."""

from __future__ import annotations

import pytest
from xmtp_core.content import (
    MAX_MESSAGE_BYTES,
    Compression,
    ContentDecodeError,
    EncodedContent,
    ReceivedContentTooLargeError,
    default_registry,
)
from xmtp_core.content.codecs.text import TEXT
from xmtp_core.content.compression import compress, decompress, decompress_content
from xmtp_core.content.types import ContentTypeId


def test_transport_cap_is_one_mebibyte() -> None:
    assert MAX_MESSAGE_BYTES == 1024 * 1024


@pytest.mark.parametrize("method", list(Compression))
def test_default_decompression_stops_at_the_transport_cap(method: Compression) -> None:
    # 2 MiB of output from a few KB: under the old 16 MB default this inflated without complaint.
    bomb = compress(bytes(2 * MAX_MESSAGE_BYTES), method)
    with pytest.raises(ContentDecodeError, match=f"exceeds {MAX_MESSAGE_BYTES} bytes"):
        decompress(bomb, method)
    encoded = EncodedContent(TEXT, bomb, compression=method)
    with pytest.raises(ContentDecodeError):
        decompress_content(encoded)
    with pytest.raises(ContentDecodeError):
        default_registry().decode(encoded)


def test_content_exactly_at_the_cap_still_decompresses() -> None:
    data = bytes(MAX_MESSAGE_BYTES)
    assert decompress(compress(data, Compression.GZIP), Compression.GZIP) == data


def test_uncompressed_content_over_the_cap_is_a_decode_error() -> None:
    registry = default_registry()
    big = EncodedContent(TEXT, b"a" * (MAX_MESSAGE_BYTES + 1), parameters={"encoding": "UTF-8"})
    with pytest.raises(ReceivedContentTooLargeError):
        registry.decode(big)
    with pytest.raises(ContentDecodeError):
        registry.decode_bytes(big.to_bytes())
    unknown = EncodedContent(ContentTypeId("evil.example", "blob"), b"x" * (MAX_MESSAGE_BYTES + 1))
    with pytest.raises(ReceivedContentTooLargeError):  # unknown types are bounded too, not kept raw
        registry.decode(unknown)
    at_cap = EncodedContent(TEXT, b"a" * MAX_MESSAGE_BYTES, parameters={"encoding": "UTF-8"})
    assert registry.decode(at_cap).value == "a" * MAX_MESSAGE_BYTES


def test_serialized_content_over_the_cap_is_refused_before_parsing() -> None:
    with pytest.raises(ReceivedContentTooLargeError):
        default_registry().decode_bytes(b"\x00" * (MAX_MESSAGE_BYTES + 1))
