"""Reads just enough of an MLS message (RFC 9420 §6) to route and classify it: group id, epoch and
whether it carries a commit. The node never decrypts; PrivateMessage content_type is in the clear."""

from __future__ import annotations

from dataclasses import dataclass

from devnode.errors import MalformedData
from devnode.tls import TlsReader

MLS_VERSION_10 = 1
WIRE_FORMAT_PUBLIC = 1
WIRE_FORMAT_PRIVATE = 2
CONTENT_APPLICATION = 1
CONTENT_PROPOSAL = 2
CONTENT_COMMIT = 3
_SENDER_MEMBER = 1
_SENDER_EXTERNAL = 2
_SENDER_NEW_MEMBER_PROPOSAL = 3
_SENDER_NEW_MEMBER_COMMIT = 4


@dataclass(frozen=True)
class GroupMessageInfo:
    """What the node needs from a group message: its group, epoch, and whether it is a commit."""

    group_id: bytes
    epoch: int
    wire_format: int
    content_type: int

    @property
    def is_commit(self) -> bool:
        return self.content_type == CONTENT_COMMIT


def _content_type(value: int) -> int:
    if value not in (CONTENT_APPLICATION, CONTENT_PROPOSAL, CONTENT_COMMIT):
        raise MalformedData(f"MLS message: unknown content_type {value}")
    return value


def _skip_sender(reader: TlsReader) -> None:
    sender_type = reader.u8()
    if sender_type in (_SENDER_MEMBER, _SENDER_EXTERNAL):
        reader.u32()  # leaf_index / sender_index
    elif sender_type not in (_SENDER_NEW_MEMBER_PROPOSAL, _SENDER_NEW_MEMBER_COMMIT):
        raise MalformedData(f"MLS PublicMessage: unknown sender_type {sender_type}")


def parse_group_message(data: bytes) -> GroupMessageInfo:
    """Parse the framing of a TLS-serialised MLSMessage that must be a PublicMessage or PrivateMessage.

    PrivateMessage is parsed completely (its body is three opaque vectors), so truncation and trailing bytes
    are caught; for PublicMessage only the header up to content_type is read.
    """
    reader = TlsReader(data, "MLS message")
    version = reader.u16()
    if version != MLS_VERSION_10:
        raise MalformedData(f"MLS message: unsupported protocol version {version}")
    wire_format = reader.u16()
    if wire_format not in (WIRE_FORMAT_PUBLIC, WIRE_FORMAT_PRIVATE):
        raise MalformedData(f"MLS message: wire_format {wire_format} is not a group message (need 1 or 2)")
    group_id = reader.vector()
    if not group_id:
        raise MalformedData("MLS message: empty group_id")
    epoch = reader.u64()
    if wire_format == WIRE_FORMAT_PRIVATE:
        content_type = _content_type(reader.u8())
        reader.vector()  # authenticated_data
        reader.vector()  # encrypted_sender_data
        if not reader.vector():
            raise MalformedData("MLS PrivateMessage: empty ciphertext")
        reader.expect_end()
    else:
        _skip_sender(reader)
        reader.vector()  # authenticated_data
        content_type = _content_type(reader.u8())
        if not reader.remaining:
            raise MalformedData("MLS PublicMessage: missing content")
    return GroupMessageInfo(group_id=group_id, epoch=epoch, wire_format=wire_format, content_type=content_type)
