"""Exception hierarchy for content types: one base, one decode error every decoder raises, encode errors."""

from __future__ import annotations


class ContentError(Exception):
    """Base class for every content-type failure."""


class ContentDecodeError(ContentError):
    """Received bytes could not be decoded (bad protobuf/JSON, missing field, zip bomb, bad digest...)."""


class ContentEncodeError(ContentError):
    """A value could not be encoded (invalid value, limit exceeded, no codec for it)."""


class ContentTooLargeError(ContentEncodeError):
    """An encoded message is over the size cap and must not be sent (use a remote attachment instead)."""
