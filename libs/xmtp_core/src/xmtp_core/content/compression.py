"""Compression of EncodedContent.content: zlib ("deflate") and gzip, with bounded decompression.

libxmtp itself never compresses; Android and the legacy JS SDK do (DEFLATE = zlib-wrapped RFC 1950,
GZIP = RFC 1952). We decompress whenever the field is present and compress only when asked.
"""

from __future__ import annotations

import dataclasses
import zlib

from xmtp_core.content.errors import ContentDecodeError
from xmtp_core.content.limits import MAX_MESSAGE_BYTES
from xmtp_core.content.types import Compression, EncodedContent

# Legacy JS only compressed payloads of at least this many bytes; smaller ones grow instead of shrinking.
MIN_COMPRESS_SIZE = 10
# Content cannot legitimately be larger than the transport takes uncompressed, so a compressed message may
# not inflate past it either (a zip bomb is refused after at most this much output).
DEFAULT_MAX_DECOMPRESSED_SIZE = MAX_MESSAGE_BYTES

_WBITS = {Compression.DEFLATE: zlib.MAX_WBITS, Compression.GZIP: 16 + zlib.MAX_WBITS}


class DecompressionLimitError(ContentDecodeError):
    """Decompressed output would exceed the configured bound (likely a zip bomb)."""


def compress(data: bytes, method: Compression) -> bytes:
    # One compressobj for both formats keeps gzip output deterministic (no mtime / file name header).
    """`data` compressed as one zlib (DEFLATE) or gzip stream, deterministically."""
    compressor = zlib.compressobj(level=6, wbits=_WBITS[method])
    return compressor.compress(data) + compressor.flush()


def decompress(data: bytes, method: Compression, max_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE) -> bytes:
    """Inflate one complete zlib/gzip stream, refusing more than max_size output bytes or trailing data."""
    decompressor = zlib.decompressobj(wbits=_WBITS[method])
    try:
        # max_length caps the work done on hostile input; one extra byte tells "exactly at limit" from "over".
        out = decompressor.decompress(data, max_size + 1)
    except zlib.error as exc:
        raise ContentDecodeError(f"invalid {method.name.lower()} data: {exc}") from exc
    if len(out) > max_size or decompressor.unconsumed_tail:
        raise DecompressionLimitError(f"decompressed content exceeds {max_size} bytes")
    if not decompressor.eof:
        raise ContentDecodeError(f"truncated {method.name.lower()} stream")
    if decompressor.unused_data:
        raise ContentDecodeError(f"trailing bytes after {method.name.lower()} stream")
    return out


def compress_content(encoded: EncodedContent, method: Compression) -> EncodedContent:
    """Compress the content bytes (only they; type, params and fallback stay readable)."""
    if encoded.compression is not None:
        raise ValueError("content is already compressed")
    if len(encoded.content) < MIN_COMPRESS_SIZE:
        return encoded
    return dataclasses.replace(encoded, content=compress(encoded.content, method), compression=method)


def decompress_content(encoded: EncodedContent, max_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE) -> EncodedContent:
    """Return the content uncompressed (unchanged when the compression field is absent)."""
    if encoded.compression is None:
        return encoded
    content = decompress(encoded.content, encoded.compression, max_size)
    return dataclasses.replace(encoded, content=content, compression=None)
