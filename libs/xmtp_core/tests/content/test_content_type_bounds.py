"""ContentTypeId fields and values quoted in decode errors are sender text: bounded and cleaned."""

from __future__ import annotations

import pytest
from xmtp_core.content import ContentDecodeError, EncodedContent, default_registry
from xmtp_core.content.codecs.text import TEXT
from xmtp_core.content.limits import MAX_CONTENT_TYPE_FIELD_CHARS
from xmtp_core.content.types import ContentTypeId
from xmtp_core.protos.mls.message_contents import content_pb2


def _wire(authority: str, type_id: str) -> bytes:
    ct = content_pb2.ContentTypeId(authority_id=authority, type_id=type_id, version_major=1)
    return content_pb2.EncodedContent(type=ct, content=b"x", fallback="fb").SerializeToString()


@pytest.mark.parametrize(
    ("authority", "type_id"),
    [("a" * 100_000, "blob"), ("evil.example", "t" * (MAX_CONTENT_TYPE_FIELD_CHARS + 1))],
)
def test_overlong_content_type_fields_are_a_decode_error(authority: str, type_id: str) -> None:
    with pytest.raises(ContentDecodeError) as excinfo:
        default_registry().decode_bytes(_wire(authority, type_id))
    assert len(str(excinfo.value)) < 200


def test_content_type_fields_at_the_limit_decode_as_unknown() -> None:
    decoded = default_registry().decode_bytes(_wire("a" * MAX_CONTENT_TYPE_FIELD_CHARS, "b" * 10))
    assert not decoded.known and decoded.fallback == "fb"


def test_sender_text_in_decode_errors_is_cleaned_and_bounded() -> None:
    hostile = "\x00bad\nline" + "z" * 50_000
    text = EncodedContent(TEXT, b"hi", parameters={"encoding": hostile})
    with pytest.raises(ContentDecodeError) as excinfo:
        default_registry().decode(text)
    message = str(excinfo.value)
    assert "\x00" not in message and "\n" not in message and len(message) < 400


def test_unknown_type_with_control_characters_still_decodes_as_unknown() -> None:
    decoded = default_registry().decode(EncodedContent(ContentTypeId("ev\x00il", "t\nx"), b"x", fallback="fb"))
    assert not decoded.known
