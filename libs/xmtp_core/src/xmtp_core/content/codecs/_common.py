"""Shared helpers for built-in codecs: strict JSON access, UTF-8 and protobuf parsing with uniform errors."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TypeAlias, TypeVar

from google.protobuf.message import DecodeError as ProtoDecodeError
from google.protobuf.message import Message

from xmtp_core.content.errors import ContentDecodeError, ContentEncodeError
from xmtp_core.untrusted import FIELD_LIMIT, clean

JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
JsonObject: TypeAlias = "dict[str, JsonValue]"

M = TypeVar("M", bound=Message)


def quoted(value: object) -> str:
    """A sender's value for an error message: cleaned, cut to a field's length, and quoted."""
    return repr(clean(value, FIELD_LIMIT))


def utf8(data: bytes, what: str) -> str:
    """`data` decoded as UTF-8, or `ContentDecodeError` naming `what`."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContentDecodeError(f"{what} is not valid UTF-8") from exc


def to_utf8(text: str, what: str) -> bytes:
    """`text` encoded as UTF-8, or `ContentEncodeError` naming `what` (lone surrogates)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ContentEncodeError(f"{what} is not encodable as UTF-8") from exc


def parse_json_object(data: bytes, what: str) -> JsonObject:
    """`data` parsed as a JSON object, or `ContentDecodeError` naming `what`."""
    try:
        value = json.loads(utf8(data, what))
    except (ValueError, RecursionError) as exc:
        raise ContentDecodeError(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ContentDecodeError(f"{what} must be a JSON object")
    return value


def dump_json(value: JsonValue, what: str) -> bytes:
    """Compact JSON with UTF-8 kept literal, like serde_json (key order is the caller's insertion order)."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError) as exc:
        raise ContentEncodeError(f"cannot encode {what} as JSON: {exc}") from exc


def get_str(obj: Mapping[str, JsonValue], key: str, what: str, *aliases: str) -> str:
    """The required string field `key` (or one of its aliases) of a JSON object."""
    value = get_optional_str(obj, key, what, *aliases)
    if value is None:
        raise ContentDecodeError(f"{what}: missing string field {key!r}")
    return value


def get_optional_str(obj: Mapping[str, JsonValue], key: str, what: str, *aliases: str) -> str | None:
    """The string field `key` (or one of its aliases), None when absent; other types are refused."""
    value = _lookup(obj, key, aliases)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContentDecodeError(f"{what}: field {key!r} must be a string")
    return value


def get_object(obj: Mapping[str, JsonValue], key: str, what: str, *aliases: str) -> JsonObject | None:
    """The optional JSON-object field `key`, None when absent."""
    value = _lookup(obj, key, aliases)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ContentDecodeError(f"{what}: field {key!r} must be an object")
    return value


def get_list(obj: Mapping[str, JsonValue], key: str, what: str) -> list[JsonValue]:
    """The optional JSON-array field `key`, None when absent."""
    value = obj.get(key)
    if not isinstance(value, list):
        raise ContentDecodeError(f"{what}: field {key!r} must be an array")
    return value


def get_number(obj: Mapping[str, JsonValue], key: str, what: str) -> float:
    """The optional finite number field `key`, None when absent."""
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ContentDecodeError(f"{what}: field {key!r} must be a number")
    result = float(value)
    if not math.isfinite(result):
        raise ContentDecodeError(f"{what}: field {key!r} must be finite")
    return result


def get_uint(obj: Mapping[str, JsonValue], key: str, what: str, bits: int = 32) -> int:
    """The optional unsigned integer field `key` of at most `bits` bits, None when absent."""
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
        raise ContentDecodeError(f"{what}: field {key!r} must be an unsigned {bits}-bit integer")
    return value


def string_map(value: JsonValue, what: str) -> dict[str, str]:
    """A JSON object whose values are all strings, as a dict."""
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ContentDecodeError(f"{what} must be an object of strings")
    return {k: v for k, v in value.items() if isinstance(v, str)}


def _lookup(obj: Mapping[str, JsonValue], key: str, aliases: tuple[str, ...]) -> JsonValue:
    for name in (key, *aliases):
        if name in obj:
            return obj[name]
    return None


def parse_proto(message: M, data: bytes, what: str) -> M:
    """`data` parsed into the protobuf message `msg`, or `ContentDecodeError` naming `what`."""
    try:
        message.ParseFromString(data)
    except (ProtoDecodeError, ValueError, RecursionError) as exc:
        raise ContentDecodeError(f"invalid {what} protobuf: {exc}") from exc
    return message


def serialize_proto(message: Message, what: str) -> bytes:
    """`msg` serialized, or `ContentEncodeError` naming `what`."""
    try:
        return message.SerializeToString(deterministic=True)
    except (ValueError, TypeError) as exc:
        raise ContentEncodeError(f"cannot serialize {what}: {exc}") from exc


def hex_bytes(text: str, what: str) -> bytes:
    """`text` decoded from hex, or `ContentDecodeError` naming `what`."""
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise ContentDecodeError(f"{what} is not valid hex") from exc
