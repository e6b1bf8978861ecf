"""Coinbase interactive content (JSON): actions (coinbase.com/actions:1.0) and intent (coinbase.com/intent:1.0)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from xmtp_core.content.codec import ContentCodec
from xmtp_core.content.codecs._common import (
    JsonObject,
    JsonValue,
    dump_json,
    get_list,
    get_object,
    get_optional_str,
    get_str,
    parse_json_object,
    quoted,
)
from xmtp_core.content.errors import ContentDecodeError, ContentEncodeError
from xmtp_core.content.types import ContentTypeId, EncodedContent

ACTIONS = ContentTypeId("coinbase.com", "actions", 1, 0)
INTENT = ContentTypeId("coinbase.com", "intent", 1, 0)
MAX_ACTIONS = 10
MAX_INTENT_METADATA_BYTES = 10 * 1024


class ActionStyle(enum.StrEnum):
    """How a client should render an action button (Coinbase actions content type)."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    DANGER = "danger"


@dataclass(frozen=True)
class Action:
    """One button of an Actions message."""

    id: str
    label: str
    image_url: str | None = None
    style: ActionStyle | None = None
    expires_at: datetime | None = None  # timezone-aware; sent with millisecond precision


@dataclass(frozen=True)
class Actions:
    """A menu of 1-10 choices; the user answers with an Intent naming one action id."""

    id: str
    description: str
    actions: tuple[Action, ...]
    expires_at: datetime | None = None


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and a Z suffix, the only form libxmtp writes."""
    if value.tzinfo is None:
        raise ContentEncodeError("actions: expiresAt must be timezone-aware")
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """An RFC 3339 timestamp with an offset, as `format_timestamp` writes it."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ContentDecodeError(f"actions: invalid RFC 3339 timestamp {quoted(text)}") from exc
    if value.tzinfo is None:
        raise ContentDecodeError(f"actions: timestamp without offset {quoted(text)}")
    return value.astimezone(UTC)


def _action_json(action: Action) -> JsonObject:
    body: JsonObject = {"id": action.id, "label": action.label}
    if action.image_url is not None:
        body["imageUrl"] = action.image_url
    if action.style is not None:
        body["style"] = action.style.value
    if action.expires_at is not None:
        body["expiresAt"] = format_timestamp(action.expires_at)
    return body


def _optional_time(obj: Mapping[str, JsonValue]) -> datetime | None:
    text = get_optional_str(obj, "expiresAt", "actions", "expires_at")
    return None if text is None else parse_timestamp(text)


def _parse_action(item: JsonValue) -> Action:
    if not isinstance(item, dict):
        raise ContentDecodeError("actions: each action must be an object")
    style = get_optional_str(item, "style", "actions")
    if style is not None and style not in {s.value for s in ActionStyle}:
        raise ContentDecodeError(f"actions: unknown style {quoted(style)}")
    return Action(
        id=get_str(item, "id", "actions"),
        label=get_str(item, "label", "actions"),
        image_url=get_optional_str(item, "imageUrl", "actions", "image_url"),
        style=None if style is None else ActionStyle(style),
        expires_at=_optional_time(item),
    )


class ActionsCodec(ContentCodec[Actions]):
    """coinbase.com/actions:1.0: a message offering buttons (JSON)."""

    content_type = ACTIONS
    value_type = Actions

    def fallback(self, value: Actions) -> str | None:
        """Text shown by clients that do not know this content type."""
        listing = "\n".join(f"[{i}] {a.label}" for i, a in enumerate(value.actions, start=1))
        return f"{value.description}\n\n{listing}\n\nReply with the number to select"

    def encode(self, value: Actions) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        if not 1 <= len(value.actions) <= MAX_ACTIONS:
            raise ContentEncodeError(f"actions: need 1 to {MAX_ACTIONS} actions, got {len(value.actions)}")
        if len({a.id for a in value.actions}) != len(value.actions):
            raise ContentEncodeError("actions: action ids must be unique")
        body: JsonObject = {
            "id": value.id,
            "description": value.description,
            "actions": [_action_json(a) for a in value.actions],
        }
        if value.expires_at is not None:
            body["expiresAt"] = format_timestamp(value.expires_at)
        return self._encoded(value, dump_json(body, "actions"))

    def decode(self, encoded: EncodedContent) -> Actions:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        obj = parse_json_object(encoded.content, "actions")
        return Actions(
            id=get_str(obj, "id", "actions"),
            description=get_str(obj, "description", "actions"),
            actions=tuple(_parse_action(item) for item in get_list(obj, "actions", "actions")),
            expires_at=_optional_time(obj),
        )


@dataclass(frozen=True)
class Intent:
    """The user's choice: `id` is the Actions id, `action_id` the chosen Action's id."""

    id: str
    action_id: str
    metadata: Mapping[str, JsonValue] | None = None


class IntentCodec(ContentCodec[Intent]):
    """coinbase.com/intent:1.0: the button a user chose from an Actions message (JSON)."""

    content_type = INTENT
    value_type = Intent

    def fallback(self, value: Intent) -> str | None:
        """Text shown by clients that do not know this content type."""
        return f"User selected action: {value.action_id}"

    def encode(self, value: Intent) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        body: JsonObject = {"id": value.id, "actionId": value.action_id}
        if value.metadata is not None:
            metadata = dict(value.metadata)
            if len(dump_json(metadata, "intent metadata")) > MAX_INTENT_METADATA_BYTES:
                raise ContentEncodeError(f"intent: metadata exceeds {MAX_INTENT_METADATA_BYTES} bytes")
            body["metadata"] = metadata
        return self._encoded(value, dump_json(body, "intent"))

    def decode(self, encoded: EncodedContent) -> Intent:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        obj = parse_json_object(encoded.content, "intent")
        return Intent(
            id=get_str(obj, "id", "intent"),
            # libxmtp's struct serializes the Rust field name; JS uses camelCase. Accept both.
            action_id=get_str(obj, "actionId", "intent", "action_id"),
            metadata=get_object(obj, "metadata", "intent"),
        )
