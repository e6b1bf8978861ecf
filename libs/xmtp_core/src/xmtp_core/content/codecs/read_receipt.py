"""Read receipt (xmtp.org/readReceipt:1.0): empty content, never pushed."""

from __future__ import annotations

from dataclasses import dataclass

from xmtp_core.content.codec import ContentCodec
from xmtp_core.content.types import ContentTypeId, EncodedContent

READ_RECEIPT = ContentTypeId("xmtp.org", "readReceipt", 1, 0)


@dataclass(frozen=True)
class ReadReceipt:
    """Marks the conversation as read up to this message."""


class ReadReceiptCodec(ContentCodec[ReadReceipt]):
    """xmtp.org/readReceipt:1.0: the recipient has read the conversation (no push)."""

    content_type = READ_RECEIPT
    value_type = ReadReceipt
    push = False

    def encode(self, value: ReadReceipt) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        return self._encoded(value, b"")

    def decode(self, encoded: EncodedContent) -> ReadReceipt:
        # Content is defined as empty; anything there is ignored, as other clients do.
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        return ReadReceipt()
