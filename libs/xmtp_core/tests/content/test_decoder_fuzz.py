"""Hostile input: random bytes, parameters and JSON into every decoder raise only ContentDecodeError."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xmtp_core.content import (
    ContentCodec,
    ContentDecodeError,
    EncodedContent,
    builtin_codecs,
    decode_plaintext_envelope,
    default_registry,
)
from xmtp_core.content.compression import decompress
from xmtp_core.content.types import Compression

from .strategies import json_values

SETTINGS = settings(deadline=None, max_examples=150)
CODECS = builtin_codecs()
KNOWN_PARAMS = [
    "encoding",
    "reference",
    "referenceInboxId",
    "contentType",
    "action",
    "schema",
    "mimeType",
    "filename",
    "contentDigest",
    "salt",
    "nonce",
    "secret",
    "scheme",
    "contentLength",
]
params = st.dictionaries(
    st.sampled_from(KNOWN_PARAMS) | st.text(max_size=8),
    st.text(max_size=20) | st.binary(max_size=16).map(bytes.hex),
    max_size=6,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


def _decode_or_reject(codec: ContentCodec[Any], encoded: EncodedContent) -> None:
    with contextlib.suppress(ContentDecodeError):
        codec.decode(encoded)


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: str(c.content_type))
@SETTINGS
@given(content=st.binary(max_size=200), parameters=params)
def test_random_bytes_into_decoder(codec: ContentCodec[Any], content: bytes, parameters: dict[str, str]) -> None:
    _decode_or_reject(codec, EncodedContent(codec.content_type, content, parameters))


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: str(c.content_type))
@SETTINGS
@given(obj=json_objects | json_values)
def test_random_json_into_decoder(codec: ContentCodec[Any], obj: object) -> None:
    _decode_or_reject(codec, EncodedContent(codec.content_type, json.dumps(obj).encode()))


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: str(c.content_type))
@SETTINGS
@given(obj=json_objects, name=st.sampled_from(["calls", "actions", "metadata"]))
def test_json_with_wrongly_typed_nested_fields(codec: ContentCodec[Any], obj: dict[str, Any], name: str) -> None:
    # Puts random values where nested objects and arrays are expected.
    base = {"id": "x", "description": "d", "version": "1", "chainId": "0x1", "from": "0x", "reference": "r"}
    _decode_or_reject(codec, EncodedContent(codec.content_type, json.dumps({**base, name: obj}).encode()))


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_into_registry(data: bytes) -> None:
    try:
        decoded = default_registry().decode_bytes(data)
    except ContentDecodeError:
        return
    assert decoded.content_type is not None


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_into_envelope(data: bytes) -> None:
    with contextlib.suppress(ContentDecodeError):
        decode_plaintext_envelope(data)


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from(Compression))
def test_random_bytes_into_decompress(data: bytes, method: Compression) -> None:
    with contextlib.suppress(ContentDecodeError):
        decompress(data, method, max_size=10_000)
