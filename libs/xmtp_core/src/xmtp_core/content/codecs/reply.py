"""Reply (xmtp.org/reply:1.0): a nested, protobuf-serialized EncodedContent plus a reference parameter."""

from __future__ import annotations

from dataclasses import dataclass

from xmtp_core.content.codec import ContentCodec
from xmtp_core.content.codecs.text import TEXT
from xmtp_core.content.errors import ContentDecodeError
from xmtp_core.content.types import ContentTypeId, EncodedContent

REPLY = ContentTypeId("xmtp.org", "reply", 1, 0)


@dataclass(frozen=True)
class Reply:
    """A reply to message `reference` (lowercase hex id); `content` is the still-encoded inner content.

    Decode the inner content with `ContentRegistry.decode(reply.content)`.
    """

    reference: str
    content: EncodedContent
    reference_inbox_id: str | None = None


class ReplyCodec(ContentCodec[Reply]):
    """xmtp.org/reply:1.0: content that answers an earlier message by id."""

    content_type = REPLY
    value_type = Reply

    def fallback(self, value: Reply) -> str | None:
        """Text shown by clients that do not know this content type."""
        inner = value.content
        if inner.type.same_type(TEXT) and inner.compression is None:
            try:
                text = inner.content.decode("utf-8")
            except UnicodeDecodeError:
                return "Replied to an earlier message"
            return f'Replied with "{text}" to an earlier message'
        return "Replied to an earlier message"

    def encode(self, value: Reply) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        params = {"reference": value.reference, "contentType": str(value.content.type)}
        if value.reference_inbox_id is not None:
            params["referenceInboxId"] = value.reference_inbox_id
        return self._encoded(value, value.content.to_bytes(), params)

    def decode(self, encoded: EncodedContent) -> Reply:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        reference = encoded.parameters.get("reference")
        if reference is None:
            raise ContentDecodeError("reply: missing 'reference' parameter")
        return Reply(
            reference=reference,
            content=EncodedContent.from_bytes(encoded.content),
            reference_inbox_id=encoded.parameters.get("referenceInboxId"),
        )
