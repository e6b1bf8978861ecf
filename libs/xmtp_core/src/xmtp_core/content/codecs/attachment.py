"""Attachments: inline (xmtp.org/attachment:1.0), remote (remoteStaticAttachment:1.0) and multi-remote.

Only the descriptors live here; encryption, upload and download are in `content.remote_attachment`.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmtp_core.content.codec import ContentCodec
from xmtp_core.content.codecs._common import hex_bytes, parse_proto, quoted, serialize_proto, to_utf8, utf8
from xmtp_core.content.errors import ContentDecodeError, ContentEncodeError
from xmtp_core.content.types import ContentTypeId, EncodedContent
from xmtp_core.protos.mls.message_contents.content_types import multi_remote_attachment_pb2 as mra_pb2

ATTACHMENT = ContentTypeId("xmtp.org", "attachment", 1, 0)
REMOTE_ATTACHMENT = ContentTypeId("xmtp.org", "remoteStaticAttachment", 1, 0)
MULTI_REMOTE_ATTACHMENT = ContentTypeId("xmtp.org", "multiRemoteStaticAttachment", 1, 0)
_UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class Attachment:
    """A file sent inline (the whole message must stay under the size cap)."""

    mime_type: str
    data: bytes
    filename: str | None = None


@dataclass(frozen=True)
class RemoteAttachment:
    """Where to fetch an encrypted attachment and how to decrypt it (secret/salt/nonce are raw bytes)."""

    url: str
    content_digest: str  # lowercase hex SHA-256 of the ciphertext
    secret: bytes
    salt: bytes
    nonce: bytes
    scheme: str = "https://"
    content_length: int | None = None  # ciphertext length
    filename: str | None = None


@dataclass(frozen=True)
class MultiRemoteAttachment:
    """Several remote attachments sent as one message."""

    attachments: tuple[RemoteAttachment, ...]


def _cant_display(filename: str | None, what: str) -> str:
    return f"Can't display {filename or 'this content'}. This app doesn't support {what}."


class AttachmentCodec(ContentCodec[Attachment]):
    """xmtp.org/attachment:1.0: a file sent inline (filename and MIME type in the parameters)."""

    content_type = ATTACHMENT
    value_type = Attachment

    def fallback(self, value: Attachment) -> str | None:
        """Text shown by clients that do not know this content type."""
        return _cant_display(value.filename, "attachments")

    def encode(self, value: Attachment) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        params = {"mimeType": value.mime_type}
        if value.filename is not None:
            params["filename"] = value.filename
        return self._encoded(value, value.data, params)

    def decode(self, encoded: EncodedContent) -> Attachment:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        mime_type = encoded.parameters.get("mimeType")
        if mime_type is None:
            raise ContentDecodeError("attachment: missing 'mimeType' parameter")
        return Attachment(mime_type, encoded.content, encoded.parameters.get("filename"))


def _parse_length(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > _UINT32_MAX:
        raise ContentDecodeError(f"remote attachment: invalid contentLength {quoted(text)}")
    return int(text)


def _check_length(length: int | None) -> None:
    if length is not None and not 0 <= length <= _UINT32_MAX:
        raise ContentEncodeError(f"remote attachment: contentLength {length} out of uint32 range")


class RemoteAttachmentCodec(ContentCodec[RemoteAttachment]):
    """xmtp.org/remoteStaticAttachment:1.0: an encrypted file stored at an https URL."""

    content_type = REMOTE_ATTACHMENT
    value_type = RemoteAttachment

    def fallback(self, value: RemoteAttachment) -> str | None:
        """Text shown by clients that do not know this content type."""
        return _cant_display(value.filename, "remote attachments")

    def encode(self, value: RemoteAttachment) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        if not value.url.startswith("https"):
            raise ContentEncodeError("remote attachment URL must use https")
        _check_length(value.content_length)
        params = {
            "contentDigest": value.content_digest,
            "salt": value.salt.hex(),
            "nonce": value.nonce.hex(),
            "secret": value.secret.hex(),
            "scheme": value.scheme,
        }
        if value.content_length is not None:
            params["contentLength"] = str(value.content_length)
        if value.filename is not None:
            params["filename"] = value.filename
        return self._encoded(value, to_utf8(value.url, "remote attachment URL"), params)

    def decode(self, encoded: EncodedContent) -> RemoteAttachment:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        params = encoded.parameters
        missing = [k for k in ("contentDigest", "salt", "nonce", "secret", "scheme") if k not in params]
        if missing:
            raise ContentDecodeError(f"remote attachment: missing parameters {missing}")
        length = params.get("contentLength")
        # Digest, salt and nonce lengths are checked at decryption time, as libxmtp does.
        return RemoteAttachment(
            url=utf8(encoded.content, "remote attachment URL"),
            content_digest=params["contentDigest"],
            secret=hex_bytes(params["secret"], "remote attachment secret"),
            salt=hex_bytes(params["salt"], "remote attachment salt"),
            nonce=hex_bytes(params["nonce"], "remote attachment nonce"),
            scheme=params["scheme"],
            content_length=None if length is None else _parse_length(length),
            filename=params.get("filename"),
        )


class MultiRemoteAttachmentCodec(ContentCodec[MultiRemoteAttachment]):
    """xmtp.org/multiRemoteStaticAttachment:1.0: several remote attachments in one message."""

    content_type = MULTI_REMOTE_ATTACHMENT
    value_type = MultiRemoteAttachment

    def fallback(self, value: MultiRemoteAttachment) -> str | None:
        """Text shown by clients that do not know this content type."""
        return "Can't display this content. This app doesn't support multiple remote attachments."

    def encode(self, value: MultiRemoteAttachment) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        msg = mra_pb2.MultiRemoteAttachment()
        for item in value.attachments:
            _check_length(item.content_length)
            info = msg.attachments.add(
                content_digest=item.content_digest,
                secret=item.secret,
                nonce=item.nonce,
                salt=item.salt,
                scheme=item.scheme,
                url=item.url,
            )
            if item.content_length is not None:
                info.content_length = item.content_length
            if item.filename is not None:
                info.filename = item.filename
        return self._encoded(value, serialize_proto(msg, "multi remote attachment"))

    def decode(self, encoded: EncodedContent) -> MultiRemoteAttachment:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        msg = parse_proto(mra_pb2.MultiRemoteAttachment(), encoded.content, "multi remote attachment")
        return MultiRemoteAttachment(
            tuple(
                RemoteAttachment(
                    url=info.url,
                    content_digest=info.content_digest,
                    secret=info.secret,
                    salt=info.salt,
                    nonce=info.nonce,
                    scheme=info.scheme,
                    content_length=info.content_length if info.HasField("content_length") else None,
                    filename=info.filename if info.HasField("filename") else None,
                )
                for info in msg.attachments
            )
        )
