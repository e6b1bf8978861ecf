"""Reactions: legacy v1 (xmtp.org/reaction:1.0, JSON) and v2 (xmtp.org/reaction:2.0, ReactionV2 protobuf).

libxmtp decodes major >= 2 as protobuf and anything older as JSON; node-sdk 6 sends v2.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from xmtp_core.content.codec import ContentCodec
from xmtp_core.content.codecs._common import (
    JsonObject,
    dump_json,
    get_optional_str,
    get_str,
    parse_json_object,
    parse_proto,
    quoted,
    serialize_proto,
    utf8,
)
from xmtp_core.content.errors import ContentDecodeError, ContentEncodeError
from xmtp_core.content.types import ContentTypeId, EncodedContent
from xmtp_core.protos.mls.message_contents.content_types import reaction_pb2

REACTION_V1 = ContentTypeId("xmtp.org", "reaction", 1, 0)
REACTION_V2 = ContentTypeId("xmtp.org", "reaction", 2, 0)


class ReactionAction(enum.StrEnum):
    """Whether a reaction is added or removed."""

    ADDED = "added"
    REMOVED = "removed"
    UNKNOWN = "unknown"  # v2 UNSPECIFIED or a value from a newer peer


class ReactionSchema(enum.StrEnum):
    """How a reaction's content is to be read (unicode emoji, shortcode or custom)."""

    UNICODE = "unicode"
    SHORTCODE = "shortcode"
    CUSTOM = "custom"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reaction:
    """A reaction to the message whose id (lowercase hex) is `reference`."""

    reference: str
    content: str
    action: ReactionAction = ReactionAction.ADDED
    schema: ReactionSchema = ReactionSchema.UNICODE
    reference_inbox_id: str | None = None


def _reaction_fallback(value: Reaction) -> str:
    if value.action is ReactionAction.REMOVED:
        return f'Removed "{value.content}" from an earlier message'
    return f'Reacted with "{value.content}" to an earlier message'


def _known(enum_type: type[ReactionAction] | type[ReactionSchema], text: str, what: str) -> str:
    if text == "unknown" or text not in {m.value for m in enum_type}:
        raise ContentDecodeError(f"reaction: unknown {what} {quoted(text)}")
    return text


class ReactionV1Codec(ContentCodec[Reaction]):
    """xmtp.org/reaction:1.0: a reaction as JSON."""

    content_type = REACTION_V1
    value_type = Reaction
    push = False

    def fallback(self, value: Reaction) -> str | None:
        """Text shown by clients that do not know this content type."""
        return _reaction_fallback(value)

    def encode(self, value: Reaction) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        if value.action is ReactionAction.UNKNOWN or value.schema is ReactionSchema.UNKNOWN:
            raise ContentEncodeError("reaction v1 cannot carry an unknown action or schema")
        # Key order matches libxmtp's serde struct order so encodings are byte-identical.
        body: JsonObject = {"action": value.action.value, "reference": value.reference}
        if value.reference_inbox_id is not None:
            body["referenceInboxId"] = value.reference_inbox_id
        body["schema"] = value.schema.value
        body["content"] = value.content
        return self._encoded(value, dump_json(body, "reaction"))

    def decode(self, encoded: EncodedContent) -> Reaction:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        params = encoded.parameters
        if "reference" in params and "action" in params:
            # The oldest form: everything in parameters, the emoji itself as the content bytes.
            return Reaction(
                reference=params["reference"],
                content=utf8(encoded.content, "reaction"),
                action=ReactionAction(_known(ReactionAction, params["action"], "action")),
                schema=ReactionSchema(_known(ReactionSchema, params.get("schema", "unicode"), "schema")),
                reference_inbox_id=params.get("referenceInboxId"),
            )
        obj = parse_json_object(encoded.content, "reaction")
        return Reaction(
            reference=get_str(obj, "reference", "reaction"),
            content=get_str(obj, "content", "reaction"),
            action=ReactionAction(_known(ReactionAction, get_str(obj, "action", "reaction"), "action")),
            schema=ReactionSchema(_known(ReactionSchema, get_str(obj, "schema", "reaction"), "schema")),
            reference_inbox_id=get_optional_str(obj, "referenceInboxId", "reaction"),
        )


_ACTION_TO_PROTO = {
    ReactionAction.UNKNOWN: reaction_pb2.REACTION_ACTION_UNSPECIFIED,
    ReactionAction.ADDED: reaction_pb2.REACTION_ACTION_ADDED,
    ReactionAction.REMOVED: reaction_pb2.REACTION_ACTION_REMOVED,
}
_SCHEMA_TO_PROTO = {
    ReactionSchema.UNKNOWN: reaction_pb2.REACTION_SCHEMA_UNSPECIFIED,
    ReactionSchema.UNICODE: reaction_pb2.REACTION_SCHEMA_UNICODE,
    ReactionSchema.SHORTCODE: reaction_pb2.REACTION_SCHEMA_SHORTCODE,
    ReactionSchema.CUSTOM: reaction_pb2.REACTION_SCHEMA_CUSTOM,
}
_ACTION_FROM_PROTO = {int(v): k for k, v in _ACTION_TO_PROTO.items()}
_SCHEMA_FROM_PROTO = {int(v): k for k, v in _SCHEMA_TO_PROTO.items()}


class ReactionV2Codec(ContentCodec[Reaction]):
    """xmtp.org/reaction:2.0: a reaction as protobuf (libxmtp's default)."""

    content_type = REACTION_V2
    value_type = Reaction
    push = False

    def fallback(self, value: Reaction) -> str | None:
        """Text shown by clients that do not know this content type."""
        return _reaction_fallback(value)

    def handles(self, type_id: ContentTypeId) -> bool:
        """Reaction ids of major version 2 or later (later versions are read as 2)."""
        return type_id.same_type(self.content_type) and type_id.version_major >= 2

    def encode(self, value: Reaction) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        msg = reaction_pb2.ReactionV2(
            reference=value.reference,
            reference_inbox_id=value.reference_inbox_id or "",
            action=_ACTION_TO_PROTO[value.action],
            content=value.content,
            schema=_SCHEMA_TO_PROTO[value.schema],
        )
        return self._encoded(value, serialize_proto(msg, "reaction"))

    def decode(self, encoded: EncodedContent) -> Reaction:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        msg = parse_proto(reaction_pb2.ReactionV2(), encoded.content, "reaction")
        return Reaction(
            reference=msg.reference,
            content=msg.content,
            # Proto3 enums are open: values from newer peers map to UNKNOWN rather than failing.
            action=_ACTION_FROM_PROTO.get(int(msg.action), ReactionAction.UNKNOWN),
            schema=_SCHEMA_FROM_PROTO.get(int(msg.schema), ReactionSchema.UNKNOWN),
            reference_inbox_id=msg.reference_inbox_id or None,
        )
