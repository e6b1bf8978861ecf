"""Property tests: every codec round-trips its values, through the registry and the wire bytes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xmtp_core.content import (
    REACTION_V2,
    Compression,
    ContentTypeId,
    EncodedContent,
    builtin_codecs,
    default_registry,
)

from .strategies import VALUES, content_type_ids, encoded_contents

SETTINGS = settings(deadline=None, max_examples=60)


def test_every_builtin_codec_has_a_strategy() -> None:
    assert {c.content_type for c in builtin_codecs()} == set(VALUES)


@pytest.mark.parametrize("content_type", list(VALUES), ids=str)
@SETTINGS
@given(data=st.data())
def test_codec_round_trip(content_type: ContentTypeId, data: st.DataObject) -> None:
    registry = default_registry()
    value: Any = data.draw(VALUES[content_type])
    compression = data.draw(st.none() | st.sampled_from(Compression))
    prepared = registry.prepare(value, content_type=content_type, compression=compression)
    decoded = registry.decode_bytes(prepared.payload)
    assert decoded.known
    assert decoded.content_type == content_type
    assert decoded.value == value
    assert decoded.fallback == registry.codec_for(content_type).fallback(value)  # type: ignore[union-attr]
    # Canonical encoding: the same value always gives the same bytes.
    assert registry.prepare(value, content_type=content_type, compression=compression).payload == prepared.payload


@SETTINGS
@given(encoded_contents)
def test_encoded_content_round_trip(encoded: EncodedContent) -> None:
    assert EncodedContent.from_bytes(encoded.to_bytes()) == encoded


@SETTINGS
@given(content_type_ids)
def test_content_type_id_string_form(type_id: ContentTypeId) -> None:
    if "/" in type_id.authority_id or ":" in type_id.type_id or not type_id.authority_id or not type_id.type_id:
        return  # not representable in the string form
    assert ContentTypeId.parse(str(type_id)) == type_id


def test_content_type_id_parse() -> None:
    assert ContentTypeId.parse("xmtp.org/reaction:2.0") == REACTION_V2
    assert str(REACTION_V2) == "xmtp.org/reaction:2.0"
    for bad in ("xmtp.org/text", "text:1.0", "xmtp.org/text:1", "xmtp.org/text:a.b", "/text:1.0"):
        with pytest.raises(ValueError):
            ContentTypeId.parse(bad)
