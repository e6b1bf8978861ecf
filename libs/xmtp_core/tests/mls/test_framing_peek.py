"""``peek_group_message``: the routing header of Public/PrivateMessages, checked against full decoding."""

from __future__ import annotations

from typing import Any

import pytest
from xmtp_core.mls.codec import Writer
from xmtp_core.mls.errors import DecodeError
from xmtp_core.mls.framing import (
    CONTENT_APPLICATION,
    CONTENT_COMMIT,
    SENDER_MEMBER,
    WIRE_PRIVATE_MESSAGE,
    WIRE_PUBLIC_MESSAGE,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    peek_group_message,
)

from ._vectors import load

CASES = load("messages")


@pytest.mark.parametrize("case", CASES[::10], ids=lambda c: str(CASES.index(c)))
@pytest.mark.parametrize("field", ["public_message_commit", "public_message_application", "private_message"])
def test_peek_matches_full_decode(case: dict[str, Any], field: str) -> None:
    data = bytes.fromhex(case[field])
    message = MLSMessage.from_bytes(data)
    body = message.body
    if isinstance(body, PublicMessage):
        expected = (body.content.group_id, body.content.epoch, body.content.content_type)
    else:
        assert isinstance(body, PrivateMessage)
        expected = (body.group_id, body.epoch, body.content_type)
    header = peek_group_message(data)
    assert (header.group_id, header.epoch, header.content_type) == expected
    assert header.wire_format == message.wire_format
    assert header.is_commit == (header.content_type == CONTENT_COMMIT)
    if field.startswith("public"):
        assert header.is_commit == (field == "public_message_commit")


def _private(content_type: int = CONTENT_APPLICATION, version: int = 1) -> bytes:
    w = Writer().u16(version).u16(WIRE_PRIVATE_MESSAGE).vec(b"grp").u64(7).u8(content_type)
    return w.vec(b"").vec(b"sender").vec(b"ciphertext").bytes()


def _public_header(sender_type: int = SENDER_MEMBER, content_type: int = CONTENT_COMMIT) -> Writer:
    w = Writer().u16(1).u16(WIRE_PUBLIC_MESSAGE).vec(b"grp").u64(7).u8(sender_type)
    if sender_type == SENDER_MEMBER:
        w.u32(0)
    return w.vec(b"").u8(content_type)


def test_public_message_content_is_not_decoded() -> None:
    # Not a valid Commit body: peeking must not care, a full decode would.
    data = _public_header().vec(b"opaque").bytes()
    header = peek_group_message(data)
    assert (header.group_id, header.epoch, header.is_commit) == (b"grp", 7, True)
    with pytest.raises(DecodeError):
        MLSMessage.from_bytes(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated"),
        (_private(version=2), "version"),
        (Writer().u16(1).u16(3).vec(b"g").bytes(), "wire format 3"),
        (_private(content_type=9), "content type 9"),
        (_private() + b"\x00", "trailing"),
        (_private()[:-1], "truncated"),
        (_public_header(sender_type=7).bytes(), "sender type 7"),
        (_public_header().bytes(), "no content"),
        (_public_header(content_type=0).vec(b"x").bytes(), "content type 0"),
    ],
)
def test_bad_group_messages_raise_decode_error(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        peek_group_message(data)
