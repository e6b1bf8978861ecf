"""Text (xmtp.org/text:1.0) and Markdown (xmtp.org/markdown:1.0): UTF-8 bytes with an `encoding` parameter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from xmtp_core.content.codec import ContentCodec
from xmtp_core.content.codecs._common import quoted, to_utf8, utf8
from xmtp_core.content.errors import ContentDecodeError
from xmtp_core.content.types import ContentTypeId, EncodedContent

TEXT = ContentTypeId("xmtp.org", "text", 1, 0)
MARKDOWN = ContentTypeId("xmtp.org", "markdown", 1, 0)
_ENCODING = {"encoding": "UTF-8"}


@dataclass(frozen=True)
class Markdown:
    """Markdown source; a distinct type so the registry can tell it from plain text (str)."""

    text: str


def _decode_utf8_param(parameters: Mapping[str, str], content: bytes, what: str) -> str:
    # Decoders default to UTF-8 when the parameter is missing; any other charset is an error.
    encoding = parameters.get("encoding", "UTF-8")
    if encoding.upper() not in ("UTF-8", "UTF8"):
        raise ContentDecodeError(f"{what}: unsupported encoding {quoted(encoding)}")
    return utf8(content, what)


class TextCodec(ContentCodec[str]):
    """xmtp.org/text:1.0: UTF-8 text."""

    content_type = TEXT
    value_type = str

    def encode(self, value: str) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        return self._encoded(value, to_utf8(value, "text"), _ENCODING)

    def decode(self, encoded: EncodedContent) -> str:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        return _decode_utf8_param(encoded.parameters, encoded.content, "text")


class MarkdownCodec(ContentCodec[Markdown]):
    """xmtp.org/markdown:1.0: UTF-8 Markdown text."""

    content_type = MARKDOWN
    value_type = Markdown

    def encode(self, value: Markdown) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        return self._encoded(value, to_utf8(value.text, "markdown"), _ENCODING)

    def decode(self, encoded: EncodedContent) -> Markdown:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        return Markdown(_decode_utf8_param(encoded.parameters, encoded.content, "markdown"))
