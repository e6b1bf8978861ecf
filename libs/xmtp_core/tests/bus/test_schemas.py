"""Bus schemas: every model round-trips through JSON (hypothesis, values drawn from the model's own JSON schema),
arbitrary input only ever yields `SchemaError`, caps are enforced, and node envelopes convert both ways."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from xmtp_core.bus import schemas
from xmtp_core.bus.schemas import SchemaError, dump, parse
from xmtp_core.node import GroupMessage, WelcomeKind, WelcomeMessage

MODELS: list[Any] = [
    schemas.InboundEnvelope,
    schemas.Event,
    schemas.OutboundCommand,
    schemas.CommandResult,
    schemas.OpRequest,
    schemas.OpResponse,
    schemas.PublishRequest,
    schemas.PublishResult,
    schemas.DeadLetter,
]


def from_schema(node: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values for the subset of JSON Schema that pydantic writes for these models (sizes kept small)."""
    if "$ref" in node:
        return st.deferred(lambda: from_schema(defs[node["$ref"].rsplit("/", 1)[1]], defs))
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return st.one_of([from_schema(n, defs) for n in node[key]])
    kind = node.get("type")
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(node.get("minimum", -(2**63)), node.get("maximum", 2**63))
    if kind == "string":
        if node.get("contentEncoding") == "base64":
            return st.binary(max_size=min(48, node["maxLength"] * 3 // 4)).map(lambda b: base64.b64encode(b).decode())
        if "pattern" in node:
            return st.from_regex(
                node["pattern"].replace("{1,128}", "{1,8}").replace("{1,300}", "{1,20}"), fullmatch=True
            )
        return st.text(min_size=node.get("minLength", 0), max_size=min(20, node.get("maxLength", 20)))
    if kind == "array":
        return st.lists(
            from_schema(node["items"], defs), min_size=node.get("minLength", node.get("minItems", 0)), max_size=3
        )
    if kind == "object":
        props = node["properties"]
        required = set(node.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v, defs) for k, v in props.items() if k in required},
            optional={k: from_schema(v, defs) for k, v in props.items() if k not in required},
        )
    raise AssertionError(f"schema node not handled: {node}")


def instances(model: Any) -> st.SearchStrategy[Any]:
    schema = schemas.adapter(model).json_schema()
    return from_schema(schema, schema.get("$defs", {}))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: getattr(m, "__name__", str(m)))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip(model: Any, data: st.DataObject) -> None:
    raw = json.dumps(data.draw(instances(model)))
    try:
        value = parse(model, raw)
    except SchemaError:
        assume(False)  # a model-level rule (exactly one target, ok xor error, ...) refused it; all refused fails
        return
    again = parse(model, dump(value))
    assert again == value and dump(again) == dump(value)


def test_every_public_model_is_reachable_from_a_hop() -> None:
    names = set(json.dumps([schemas.adapter(m).json_schema() for m in MODELS]).split('"'))
    missing = [m.__name__ for m in schemas.models() if m.__name__ not in names]
    assert missing == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=30,
)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: getattr(m, "__name__", str(m)))
@settings(max_examples=150, deadline=None)
@given(value=json_values, raw=st.binary(max_size=64))
def test_arbitrary_input_is_only_ever_a_schema_error(model: Any, value: Any, raw: bytes) -> None:
    for payload in (json.dumps(value).encode(), raw, b'{"v":1,"kind":"group","type":"text","op":"create_dm"}'):
        try:
            parse(model, payload)
        except SchemaError as exc:
            assert len(exc.reason) <= 200 and "\n" not in exc.reason


def test_caps_and_unknown_fields() -> None:
    base = {"agent": "a", "idempotency_key": "k1", "conversation_id": "ab", "type": "text"}
    assert parse(schemas.OutboundCommand, json.dumps({**base, "text": "hi"})).text == "hi"
    with pytest.raises(SchemaError):
        parse(schemas.OutboundCommand, json.dumps({**base, "text": "x" * (schemas.MAX_TEXT + 1)}))
    with pytest.raises(SchemaError):
        parse(schemas.OutboundCommand, json.dumps({**base, "text": "hi", "extra": 1}))
    with pytest.raises(SchemaError):
        parse(schemas.OutboundCommand, json.dumps({**base, "text": "hi", "to_inbox_id": "i"}))  # two targets
    with pytest.raises(SchemaError):
        parse(schemas.OutboundCommand, json.dumps({**base, "text": "hi", "idempotency_key": "has space"}))
    big = base64.b64encode(b"x" * (schemas.MAX_ENVELOPE_BYTES + 1)).decode()
    env = {"agent": "a", "kind": "group", "envelope_id": 1, "created_ns": 1, "group_id": "ab"}
    with pytest.raises(SchemaError, match="over"):
        parse(schemas.InboundEnvelope, json.dumps({**env, "data": big}))
    with pytest.raises(SchemaError, match="base64"):
        parse(schemas.InboundEnvelope, json.dumps({**env, "data": "not base64!"}))
    with pytest.raises(SchemaError):
        parse(schemas.InboundEnvelope, b"x" * (schemas.MAX_RAW_JSON + 1))


def test_secret_text_is_not_in_errors_or_reprs() -> None:
    secret = "hunter2-plaintext"
    with pytest.raises(SchemaError) as raised:
        parse(
            schemas.OutboundCommand, json.dumps({"agent": "a", "idempotency_key": "k", "type": "text", "text": secret})
        )
    assert secret not in str(raised.value)
    event = schemas.MessageEvent(
        agent="a",
        event_id="group:ab:1:0",
        message_id="ab",
        conversation_id="ab",
        sender_inbox_id="i",
        sender_installation="cd",
        sent_ns=1,
        content_type="xmtp.org/text:1.0",
        encoded_content=secret.encode(),
    )
    assert secret not in repr(event) and secret not in str(event)


def test_node_envelopes_convert_both_ways() -> None:
    group = GroupMessage(7, 9, b"\x01\x02", b"mls", b"hmac", False, True)
    env = schemas.envelope_from_node("a", group)
    assert env.conv == "g0102" and parse(schemas.InboundEnvelope, dump(env)).to_node() == group
    for kind in WelcomeKind:
        welcome = WelcomeMessage(3, 4, b"\xaa" * 32, b"w", b"pk", 2, b"meta" if kind is WelcomeKind.V1 else b"", kind)
        env2 = schemas.envelope_from_node("a", welcome)
        assert env2.conv == "w" + "aa" * 32 and parse(schemas.InboundEnvelope, dump(env2)).to_node() == welcome
    with pytest.raises(SchemaError):
        schemas.envelope_from_node(
            "a", GroupMessage(1, 1, b"\x01", b"x" * (schemas.MAX_ENVELOPE_BYTES + 1), b"", True, False)
        )
