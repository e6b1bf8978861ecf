"""The content registry: picks a codec by content type (decode) or by value type (encode).

Unknown content types never raise: they decode to `UnknownContent` carrying the sender's fallback text.
Every decode failure for a known type is a ContentDecodeError; sending goes through `prepare`, which
applies optional compression and the message-size cap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from xmtp_core.content.codec import ContentCodec
from xmtp_core.content.codecs.attachment import (
    AttachmentCodec,
    MultiRemoteAttachmentCodec,
    RemoteAttachmentCodec,
)
from xmtp_core.content.codecs.coinbase import ActionsCodec, IntentCodec
from xmtp_core.content.codecs.group import (
    DeleteMessageCodec,
    GroupMembershipChangeCodec,
    GroupUpdatedCodec,
    LeaveRequestCodec,
)
from xmtp_core.content.codecs.reaction import ReactionV1Codec, ReactionV2Codec
from xmtp_core.content.codecs.read_receipt import ReadReceiptCodec
from xmtp_core.content.codecs.reply import ReplyCodec
from xmtp_core.content.codecs.text import MarkdownCodec, TextCodec
from xmtp_core.content.codecs.transactions import TransactionReferenceCodec, WalletSendCallsCodec
from xmtp_core.content.compression import DEFAULT_MAX_DECOMPRESSED_SIZE, compress_content, decompress_content
from xmtp_core.content.errors import ContentDecodeError, ContentEncodeError, ContentTooLargeError
from xmtp_core.content.limits import MAX_MESSAGE_BYTES, MAX_SEND_CONTENT_BYTES
from xmtp_core.content.types import Compression, ContentTypeId, EncodedContent
from xmtp_core.untrusted import clean, clean_error

MAX_CONTENT_SIZE = MAX_SEND_CONTENT_BYTES  # the name callers know; the value lives in `limits`


@dataclass(frozen=True)
class UnknownContent:
    """Content of a type no registered codec handles, kept raw so it can be shown via its fallback."""

    encoded: EncodedContent

    @property
    def fallback(self) -> str | None:
        """The sender's fallback text, to show instead of content we cannot decode."""
        return self.encoded.fallback


@dataclass(frozen=True)
class DecodedContent:
    """A decoded message body: the codec's value, or UnknownContent when `known` is False."""

    content_type: ContentTypeId
    value: object
    fallback: str | None
    known: bool


@dataclass(frozen=True)
class PreparedContent:
    """Everything a sender needs: the (possibly compressed) EncodedContent, its bytes and the push flag."""

    encoded: EncodedContent
    payload: bytes
    should_push: bool


class ReceivedContentTooLargeError(ContentDecodeError):
    """A received content (serialized, or after decompression) is over the transport's message cap."""


class ContentRegistry:
    """Codecs by content type and by value type; `decode*` for received content, `prepare` for sending."""

    def __init__(
        self,
        codecs: Iterable[ContentCodec[Any]] = (),
        *,
        max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
        max_content_size: int = MAX_CONTENT_SIZE,
        max_received_size: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.max_decompressed_size = max_decompressed_size
        self.max_content_size = max_content_size
        self.max_received_size = max_received_size
        self._codecs: list[ContentCodec[Any]] = []
        self._by_value_type: dict[type, ContentCodec[Any]] = {}
        for codec in codecs:
            self.register(codec)

    def register(self, codec: ContentCodec[Any], *, default_for_value_type: bool = True) -> None:
        """Add a codec; a later codec for the same content type (and major version) replaces the earlier."""
        self._codecs = [c for c in self._codecs if c.content_type != codec.content_type]
        # Newest first so user codecs override built-ins that claim the same ids.
        self._codecs.insert(0, codec)
        if default_for_value_type or codec.value_type not in self._by_value_type:
            self._by_value_type[codec.value_type] = codec

    def codec_for(self, type_id: ContentTypeId) -> ContentCodec[Any] | None:
        """The codec for `type_id`: an exact match first, else one whose `handles` accepts it."""
        exact = [c for c in self._codecs if c.content_type == type_id]
        if exact:
            return exact[0]
        return next((c for c in self._codecs if c.handles(type_id)), None)

    def codec_for_value(self, value: object) -> ContentCodec[Any]:
        """The codec registered for the value's type (or a base class of it)."""
        for cls in type(value).__mro__:
            codec = self._by_value_type.get(cls)
            if codec is not None:
                return codec
        raise ContentEncodeError(f"no codec registered for values of type {type(value).__name__}")

    def _encoding_codec(self, value: object, content_type: ContentTypeId | None) -> ContentCodec[Any]:
        if content_type is None:
            return self.codec_for_value(value)
        codec = self.codec_for(content_type)
        if codec is None:
            raise ContentEncodeError(f"no codec registered for {content_type}")
        return codec

    def encode(self, value: object, *, content_type: ContentTypeId | None = None) -> EncodedContent:
        """`value` as an EncodedContent, by its type or by an explicit `content_type`."""
        return _encode_with(self._encoding_codec(value, content_type), value)

    def prepare(
        self,
        value: object,
        *,
        content_type: ContentTypeId | None = None,
        compression: Compression | None = None,
    ) -> PreparedContent:
        """Encode for sending: optional compression, then the size cap on the serialized bytes."""
        codec = self._encoding_codec(value, content_type)
        encoded = _encode_with(codec, value)
        if compression is not None:
            encoded = compress_content(encoded, compression)
        payload = encoded.to_bytes()
        if len(payload) > self.max_content_size:
            raise ContentTooLargeError(
                f"encoded content is {len(payload)} bytes, over the {self.max_content_size}-byte cap; "
                "send large files as a remote attachment"
            )
        return PreparedContent(encoded, payload, codec.should_push(value))

    def decode(self, encoded: EncodedContent) -> DecodedContent:
        """A received EncodedContent as a value (`UnknownContent` for unknown types); `ContentDecodeError`
        for content over the received-size cap (before or after decompression) or that its codec refuses."""
        self._check_received_size(len(encoded.content), "content")
        plain = decompress_content(encoded, min(self.max_decompressed_size, self.max_received_size))
        self._check_received_size(len(plain.content), "decompressed content")
        codec = self.codec_for(plain.type)
        if codec is None:
            return DecodedContent(plain.type, UnknownContent(plain), plain.fallback, known=False)
        try:
            value = codec.decode(plain)
        except ContentDecodeError:
            raise
        except Exception as exc:  # a user codec broke the contract; keep the single error type
            raise ContentDecodeError(f"{clean(plain.type)}: {clean_error(exc)}") from exc
        return DecodedContent(plain.type, value, plain.fallback, known=True)

    def decode_bytes(self, data: bytes) -> DecodedContent:
        """Decode a serialized EncodedContent (PlaintextEnvelope.V1.content)."""
        self._check_received_size(len(data), "serialized content")
        return self.decode(EncodedContent.from_bytes(data))

    def _check_received_size(self, size: int, what: str) -> None:
        if size > self.max_received_size:
            raise ReceivedContentTooLargeError(f"{what} is {size} bytes; the limit is {self.max_received_size}")


def _encode_with(codec: ContentCodec[Any], value: object) -> EncodedContent:
    try:
        return codec.encode(value)
    except ContentEncodeError:
        raise
    except (ValueError, TypeError) as exc:  # e.g. text with lone surrogates rejected by protobuf
        raise ContentEncodeError(f"{codec.content_type}: cannot encode value: {exc}") from exc


def builtin_codecs() -> list[ContentCodec[Any]]:
    """Fresh instances of every standard codec. Reaction v2 comes last so it is the default for Reaction."""
    return [
        TextCodec(),
        MarkdownCodec(),
        ReactionV1Codec(),
        ReactionV2Codec(),
        ReplyCodec(),
        ReadReceiptCodec(),
        AttachmentCodec(),
        RemoteAttachmentCodec(),
        MultiRemoteAttachmentCodec(),
        TransactionReferenceCodec(),
        WalletSendCallsCodec(),
        GroupUpdatedCodec(),
        GroupMembershipChangeCodec(),
        LeaveRequestCodec(),
        DeleteMessageCodec(),
        ActionsCodec(),
        IntentCodec(),
    ]


def default_registry(**options: int) -> ContentRegistry:
    """A new registry with every built-in codec registered; add your own with `register`."""
    return ContentRegistry(builtin_codecs(), **options)
