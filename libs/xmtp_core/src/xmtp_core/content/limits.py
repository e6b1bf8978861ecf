"""Size limits of received and sent content, all derived from XMTP's one transport cap.

XMTP's network takes messages of at most about 1 MB ("XMTP messages can only be up to 1MB",
`../shared/reference/content-types.md` §3); libxmtp itself checks nothing on the client. We read that as
1 MiB, and nothing a peer sends may make us hold more than that of one message's content: not the serialized
EncodedContent, and not its content after decompression (a zip bomb cannot widen the cap).
"""

from __future__ import annotations

MAX_MESSAGE_BYTES = 1024 * 1024
"""XMTP's transport cap on one message (also devnode's payload cap): the bound on any received content."""

MAX_SEND_CONTENT_BYTES = 950_000
"""Cap on a serialized EncodedContent we send: leaves room under `MAX_MESSAGE_BYTES` for the
PlaintextEnvelope, MLS framing and AEAD overhead."""

MAX_CONTENT_TYPE_FIELD_CHARS = 256
"""Longest authority or type id accepted in a received ContentTypeId (real ones are a few dozen)."""
