"""PlaintextEnvelope (what MLS application messages carry) and libxmtp's message-id rule."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from xmtp_core.content.codecs._common import parse_proto, serialize_proto
from xmtp_core.content.errors import ContentDecodeError, ContentEncodeError
from xmtp_core.protos.mls.message_contents import content_pb2


@dataclass(frozen=True)
class PlaintextEnvelope:
    """An application message: serialized EncodedContent plus the sender's idempotency key."""

    content: bytes
    idempotency_key: str


@dataclass(frozen=True)
class DeviceSyncEnvelope:
    """A V2 device-sync payload (request, reply or preference update); agents skip these."""

    idempotency_key: str
    kind: str


def new_idempotency_key() -> str:
    """A fresh idempotency key: 128 random bits as 32 hex characters.

    libxmtp sends its clock in nanoseconds, but the key is opaque to peers (any string is valid on the wire).
    A clock value would make `message_id` (hashed over the key and the content) a content oracle: whoever
    reads the id and the send time could confirm a guessed short message by trying nearby nanoseconds.
    """
    return secrets.token_hex(16)


def encode_plaintext_envelope(content: bytes, idempotency_key: str) -> bytes:
    """The PlaintextEnvelope V1 bytes an MLS application message carries."""
    try:
        v1 = content_pb2.PlaintextEnvelope.V1(content=content, idempotency_key=idempotency_key)
    except ValueError as exc:  # an idempotency key that is not valid UTF-8 text
        raise ContentEncodeError(f"invalid idempotency key: {exc}") from exc
    return serialize_proto(content_pb2.PlaintextEnvelope(v1=v1), "plaintext envelope")


def decode_plaintext_envelope(data: bytes) -> PlaintextEnvelope | DeviceSyncEnvelope:
    """A received PlaintextEnvelope: content and idempotency key, or a device-sync payload (V2)."""
    msg = parse_proto(content_pb2.PlaintextEnvelope(), data, "plaintext envelope")
    which = msg.WhichOneof("content")
    if which == "v1":
        return PlaintextEnvelope(msg.v1.content, msg.v1.idempotency_key)
    if which == "v2":
        kind = msg.v2.WhichOneof("message_type")
        if kind == "content":
            return PlaintextEnvelope(msg.v2.content, msg.v2.idempotency_key)
        if kind is None:
            raise ContentDecodeError("plaintext envelope v2 carries no payload")
        return DeviceSyncEnvelope(msg.v2.idempotency_key, kind)
    raise ContentDecodeError("plaintext envelope has neither v1 nor v2")


def message_id(group_id: bytes, idempotency_key: str, content: bytes) -> bytes:
    """SHA-256(group_id ‖ TAB ‖ idempotency_key ‖ TAB ‖ content): the id reactions and replies reference.

    `content` is the envelope's content bytes (the serialized EncodedContent). Hex it for references.
    """
    return hashlib.sha256(group_id + b"\t" + idempotency_key.encode("utf-8") + b"\t" + content).digest()
