"""Compression: zlib/gzip round trips, bounded output (zip bombs), and the send-side size cap."""

from __future__ import annotations

import gzip
import zlib

import pytest
from xmtp_core.content import (
    Attachment,
    Compression,
    ContentDecodeError,
    ContentRegistry,
    ContentTooLargeError,
    DecompressionLimitError,
    EncodedContent,
    builtin_codecs,
    default_registry,
)
from xmtp_core.content.codecs.text import TEXT
from xmtp_core.content.compression import compress, compress_content, decompress, decompress_content

PAYLOAD = b"hello compressed world " * 50


def test_deflate_is_zlib_wrapped_and_interoperates() -> None:
    packed = compress(PAYLOAD, Compression.DEFLATE)
    assert zlib.decompress(packed) == PAYLOAD  # RFC 1950, as Android and legacy JS produce
    assert decompress(zlib.compress(PAYLOAD, 9), Compression.DEFLATE) == PAYLOAD


def test_gzip_interoperates() -> None:
    packed = compress(PAYLOAD, Compression.GZIP)
    assert gzip.decompress(packed) == PAYLOAD
    assert decompress(gzip.compress(PAYLOAD), Compression.GZIP) == PAYLOAD


def test_formats_are_not_confused() -> None:
    with pytest.raises(ContentDecodeError):
        decompress(gzip.compress(PAYLOAD), Compression.DEFLATE)
    with pytest.raises(ContentDecodeError):
        decompress(zlib.compress(PAYLOAD), Compression.GZIP)


@pytest.mark.parametrize("method", list(Compression))
def test_zip_bomb_is_rejected(method: Compression) -> None:
    bomb = compress(bytes(5_000_000), method)
    assert len(bomb) < 10_000
    with pytest.raises(DecompressionLimitError, match="exceeds 1000000 bytes"):
        decompress(bomb, method, max_size=1_000_000)


@pytest.mark.parametrize("method", list(Compression))
def test_limit_is_inclusive(method: Compression) -> None:
    packed = compress(bytes(1000), method)
    assert decompress(packed, method, max_size=1000) == bytes(1000)
    with pytest.raises(DecompressionLimitError):
        decompress(packed, method, max_size=999)


@pytest.mark.parametrize("method", list(Compression))
def test_truncated_and_trailing_data_rejected(method: Compression) -> None:
    packed = compress(PAYLOAD, method)
    with pytest.raises(ContentDecodeError, match="truncated"):
        decompress(packed[:-6], method)
    with pytest.raises(ContentDecodeError, match="trailing"):
        decompress(packed + b"junk", method)


def test_registry_decodes_compressed_content_and_bounds_it() -> None:
    encoded = EncodedContent(TEXT, compress("héllo".encode() * 100, Compression.GZIP), compression=Compression.GZIP)
    assert default_registry().decode(encoded).value == "héllo" * 100
    bomb = EncodedContent(TEXT, compress(bytes(2_000_000), Compression.DEFLATE), compression=Compression.DEFLATE)
    with pytest.raises(DecompressionLimitError):
        default_registry(max_decompressed_size=1_000_000).decode(bomb)


def test_deflate_presence_survives_the_wire() -> None:
    # DEFLATE is enum value 0: it must still be written, or receivers would read compressed bytes as plain.
    encoded = compress_content(EncodedContent(TEXT, PAYLOAD), Compression.DEFLATE)
    parsed = EncodedContent.from_bytes(encoded.to_bytes())
    assert parsed.compression is Compression.DEFLATE
    assert decompress_content(parsed).content == PAYLOAD


def test_compress_only_when_asked_and_worthwhile() -> None:
    registry = default_registry()
    assert registry.prepare("x" * 100).encoded.compression is None
    assert registry.prepare("x" * 100, compression=Compression.GZIP).encoded.compression is Compression.GZIP
    assert registry.prepare("short", compression=Compression.GZIP).encoded.compression is None


def test_size_cap_checked_before_sending() -> None:
    registry = ContentRegistry(builtin_codecs(), max_content_size=10_000)
    big = Attachment("application/octet-stream", bytes(range(256)) * 64)
    with pytest.raises(ContentTooLargeError, match="remote attachment"):
        registry.prepare(big)
    # Compression can bring a compressible payload under the cap.
    prepared = registry.prepare(Attachment("text/plain", b"a" * 50_000), compression=Compression.DEFLATE)
    assert len(prepared.payload) <= 10_000


def test_default_cap_is_under_one_megabyte() -> None:
    registry = default_registry()
    with pytest.raises(ContentTooLargeError):
        registry.prepare(Attachment("application/octet-stream", bytes(1_000_000)))
    assert len(registry.prepare(Attachment("application/octet-stream", bytes(900_000))).payload) < 1_000_000
