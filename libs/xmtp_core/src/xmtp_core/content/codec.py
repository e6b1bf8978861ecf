"""The ContentCodec interface every content type implements, built-in or user-supplied."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import ClassVar, Generic, TypeVar

from xmtp_core.content.types import ContentTypeId, EncodedContent

T = TypeVar("T")


class ContentCodec(ABC, Generic[T]):
    """Encodes values of `value_type` to EncodedContent of `content_type` and back.

    decode() must raise only ContentDecodeError for bad input; the registry wraps anything else a
    user codec lets escape, but built-ins are held to the rule directly by the tests.
    """

    content_type: ClassVar[ContentTypeId]
    value_type: ClassVar[type]
    # Whether a push notification should be sent for this content (GroupMessageInput.V1.should_push).
    push: ClassVar[bool] = True

    @abstractmethod
    def encode(self, value: T) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type (`ContentEncodeError` if it cannot be)."""

    @abstractmethod
    def decode(self, encoded: EncodedContent) -> T:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""

    def fallback(self, value: T) -> str | None:
        """Text shown by clients that don't know this content type."""
        return None

    def should_push(self, value: T) -> bool:
        """Whether sending `value` should trigger a push notification (`GroupMessageInput.V1.should_push`)."""
        return self.push

    def handles(self, type_id: ContentTypeId) -> bool:
        """Whether this codec decodes the given id; by default the same authority, type and major version."""
        return (
            type_id.authority_id == self.content_type.authority_id
            and type_id.type_id == self.content_type.type_id
            and type_id.version_major == self.content_type.version_major
        )

    def _encoded(self, value: T, content: bytes, parameters: Mapping[str, str] | None = None) -> EncodedContent:
        return EncodedContent(
            type=self.content_type,
            content=content,
            parameters=dict(parameters or {}),
            fallback=self.fallback(value),
        )
