"""Content-type identifiers and the EncodedContent container, as plain dataclasses mapped to/from protobuf.

Protobuf objects stay at the edge: codecs and callers work with these dataclasses, and only
`to_proto` / `from_proto` / `to_bytes` / `from_bytes` touch generated code.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError as ProtoDecodeError

from xmtp_core.content.errors import ContentDecodeError, ContentEncodeError
from xmtp_core.content.limits import MAX_CONTENT_TYPE_FIELD_CHARS
from xmtp_core.protos.mls.message_contents import content_pb2

_TYPE_ID_RE = re.compile(r"^(?P<authority>[^/]+)/(?P<type>[^:]+):(?P<major>\d+)\.(?P<minor>\d+)$")
_UINT32_MAX = 2**32 - 1


class Compression(enum.IntEnum):
    """EncodedContent.compression values; DEFLATE is 0, so presence of the field is what matters."""

    DEFLATE = 0
    GZIP = 1


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


_COMPRESSION_TO_PROTO = {
    Compression.DEFLATE: content_pb2.COMPRESSION_DEFLATE,
    Compression.GZIP: content_pb2.COMPRESSION_GZIP,
}


@dataclass(frozen=True)
class ContentTypeId:
    """`authority/type:major.minor`, e.g. `xmtp.org/text:1.0`."""

    authority_id: str
    type_id: str
    version_major: int = 1
    version_minor: int = 0

    def __str__(self) -> str:
        return f"{self.authority_id}/{self.type_id}:{self.version_major}.{self.version_minor}"

    @classmethod
    def parse(cls, text: str) -> ContentTypeId:
        """Parse `authority/type:major.minor` (our own constants and configuration, not received data)."""
        match = _TYPE_ID_RE.match(text)
        if match is None:
            raise ValueError(f"not a content type id (want 'authority/type:major.minor'): {text!r}")
        major, minor = int(match["major"]), int(match["minor"])
        if major > _UINT32_MAX or minor > _UINT32_MAX:
            raise ValueError(f"content type version out of uint32 range: {text!r}")
        return cls(match["authority"], match["type"], major, minor)

    def same_type(self, other: ContentTypeId) -> bool:
        """Equality the way JS clients compare types: authority and type only, versions ignored."""
        return self.authority_id == other.authority_id and self.type_id == other.type_id

    def to_proto(self) -> content_pb2.ContentTypeId:
        """The `ContentTypeId` protobuf."""
        return content_pb2.ContentTypeId(
            authority_id=self.authority_id,
            type_id=self.type_id,
            version_major=self.version_major,
            version_minor=self.version_minor,
        )

    @classmethod
    def from_proto(cls, msg: content_pb2.ContentTypeId) -> ContentTypeId:
        """A received content type: authority and type id are sender text, so their length is bounded."""
        for what, value in (("authority_id", msg.authority_id), ("type_id", msg.type_id)):
            if len(value) > MAX_CONTENT_TYPE_FIELD_CHARS:
                raise ContentDecodeError(
                    f"content type {what} is {len(value)} characters; the limit is {MAX_CONTENT_TYPE_FIELD_CHARS}"
                )
        return cls(msg.authority_id, msg.type_id, msg.version_major, msg.version_minor)


@dataclass(frozen=True)
class EncodedContent:
    """A codec's output: what goes (serialized) into PlaintextEnvelope.V1.content."""

    type: ContentTypeId
    content: bytes = b""
    parameters: Mapping[str, str] = field(default_factory=dict)
    fallback: str | None = None
    compression: Compression | None = None

    def to_proto(self) -> content_pb2.EncodedContent:
        """The `EncodedContent` protobuf."""
        msg = content_pb2.EncodedContent(
            type=self.type.to_proto(), parameters=dict(self.parameters), content=self.content
        )
        if self.fallback is not None:
            msg.fallback = self.fallback
        if self.compression is not None:
            msg.compression = _COMPRESSION_TO_PROTO[self.compression]
        return msg

    def to_bytes(self) -> bytes:
        """Canonical serialization: fields in number order, parameters sorted by key (UTF-8 byte order).

        upb's own "deterministic" mode orders map keys differently from libxmtp's fixtures, so the map
        entries are written here; everything else is protobuf's normal output.
        """
        try:
            head = content_pb2.EncodedContent(type=self.type.to_proto()).SerializeToString()
            entries = b"".join(
                _length_delimited(2, content_pb2.EncodedContent.ParametersEntry(key=k, value=v).SerializeToString())
                for k, v in sorted(self.parameters.items())
            )
            tail_msg = self.to_proto()
            tail_msg.ClearField("type")
            tail_msg.ClearField("parameters")
            return head + entries + tail_msg.SerializeToString()
        except (ValueError, TypeError) as exc:  # e.g. strings with lone surrogates
            raise ContentEncodeError(f"cannot serialize EncodedContent: {exc}") from exc

    @classmethod
    def from_proto(cls, msg: content_pb2.EncodedContent) -> EncodedContent:
        """A received `EncodedContent` protobuf as a dataclass; content type fields are bounded."""
        compression: Compression | None = None
        if msg.HasField("compression"):
            try:
                compression = Compression(msg.compression)
            except ValueError as exc:
                raise ContentDecodeError(f"unknown compression value {msg.compression}") from exc
        return cls(
            type=ContentTypeId.from_proto(msg.type),
            content=msg.content,
            parameters=dict(msg.parameters),
            fallback=msg.fallback if msg.HasField("fallback") else None,
            compression=compression,
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> EncodedContent:
        """Parse a serialized EncodedContent; `ContentDecodeError` when it is not one."""
        msg = content_pb2.EncodedContent()
        try:
            msg.ParseFromString(data)
        except (ProtoDecodeError, ValueError) as exc:
            raise ContentDecodeError(f"invalid EncodedContent protobuf: {exc}") from exc
        return cls.from_proto(msg)
