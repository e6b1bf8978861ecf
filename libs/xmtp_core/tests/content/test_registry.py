"""Registry behaviour (unknown types, user codecs, version dispatch) and the PlaintextEnvelope."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pytest
from xmtp_core.content import (
    REACTION_V1,
    REACTION_V2,
    TEXT,
    ContentCodec,
    ContentDecodeError,
    ContentEncodeError,
    ContentTypeId,
    DeviceSyncEnvelope,
    EncodedContent,
    Markdown,
    PlaintextEnvelope,
    Reaction,
    ReactionAction,
    ReadReceipt,
    Reply,
    UnknownContent,
    decode_plaintext_envelope,
    default_registry,
    encode_plaintext_envelope,
    message_id,
)
from xmtp_core.content.codecs._common import to_utf8, utf8
from xmtp_core.protos.device_sync import content_pb2 as sync_pb2
from xmtp_core.protos.mls.message_contents import content_pb2

POLL = ContentTypeId("example.com", "poll", 1, 0)


@dataclass(frozen=True)
class Poll:
    question: str


class PollCodec(ContentCodec[Poll]):
    content_type = POLL
    value_type = Poll

    def encode(self, value: Poll) -> EncodedContent:
        return self._encoded(value, to_utf8(value.question, "poll"))

    def decode(self, encoded: EncodedContent) -> Poll:
        return Poll(utf8(encoded.content, "poll"))

    def fallback(self, value: Poll) -> str | None:
        return f"Poll: {value.question}"


class BrokenCodec(PollCodec):
    def decode(self, encoded: EncodedContent) -> Poll:
        raise KeyError("oops")


def test_unknown_type_decodes_to_raw_value_with_fallback() -> None:
    encoded = EncodedContent(POLL, b"\xff\x00", {"k": "v"}, fallback="Poll: lunch?")
    decoded = default_registry().decode_bytes(encoded.to_bytes())
    assert not decoded.known
    assert decoded.fallback == "Poll: lunch?"
    assert isinstance(decoded.value, UnknownContent)
    assert decoded.value.encoded == encoded


def test_unknown_major_version_is_unknown_not_an_error() -> None:
    text_v2 = EncodedContent(ContentTypeId("xmtp.org", "text", 2, 0), b"\xff", fallback="fb")
    assert default_registry().decode(text_v2).known is False


def test_user_codec_registration() -> None:
    registry = default_registry()
    with pytest.raises(ContentEncodeError, match="no codec"):
        registry.encode(Poll("lunch?"))
    registry.register(PollCodec())
    prepared = registry.prepare(Poll("lunch?"))
    assert prepared.encoded.fallback == "Poll: lunch?"
    assert prepared.should_push
    decoded = registry.decode_bytes(prepared.payload)
    assert decoded.known and decoded.value == Poll("lunch?")


def test_contract_breaking_user_codec_still_raises_content_decode_error() -> None:
    registry = default_registry()
    registry.register(BrokenCodec())
    with pytest.raises(ContentDecodeError, match="KeyError"):
        registry.decode(EncodedContent(POLL, b"x"))


def test_user_codec_can_replace_a_builtin() -> None:
    class ShoutingText(ContentCodec[str]):
        content_type = TEXT
        value_type = str

        def encode(self, value: str) -> EncodedContent:
            return self._encoded(value, value.upper().encode())

        def decode(self, encoded: EncodedContent) -> str:
            return encoded.content.decode() + "!"

    registry = default_registry()
    registry.register(ShoutingText())
    assert registry.decode_bytes(registry.prepare("hi").payload).value == "HI!"


def test_reaction_versions() -> None:
    registry = default_registry()
    reaction = Reaction("ab12", "👍")
    assert registry.encode(reaction).type == REACTION_V2  # node-sdk 6 behaviour
    v1 = registry.encode(reaction, content_type=REACTION_V1)
    assert v1.content.startswith(b'{"action":"added"')
    assert registry.decode(v1).value == reaction
    # libxmtp decodes any major >= 2 as protobuf.
    v3 = EncodedContent(ContentTypeId("xmtp.org", "reaction", 3, 1), registry.encode(reaction).content)
    assert registry.decode(v3).value == reaction


def test_legacy_parameter_reaction() -> None:
    legacy = EncodedContent(
        REACTION_V1,
        "😀".encode(),
        {"action": "removed", "reference": "cafe", "schema": "unicode", "encoding": "UTF-8"},
    )
    assert default_registry().decode(legacy).value == Reaction("cafe", "😀", action=ReactionAction.REMOVED)


def test_should_push_and_fallbacks() -> None:
    registry = default_registry()
    assert registry.prepare("hi").should_push
    assert registry.prepare(Markdown("*hi*")).should_push
    assert not registry.prepare(Reaction("ab", "x")).should_push
    assert not registry.prepare(ReadReceipt()).should_push
    assert registry.encode("hi").fallback is None
    reply = Reply("ab", registry.encode("yes"))
    assert registry.encode(reply).fallback == 'Replied with "yes" to an earlier message'
    assert registry.prepare(reply).should_push
    assert registry.encode(Reply("ab", registry.encode(ReadReceipt()))).fallback == "Replied to an earlier message"


def test_text_encoding_parameter() -> None:
    registry = default_registry()
    assert registry.decode(EncodedContent(TEXT, "é".encode())).value == "é"  # defaults to UTF-8
    with pytest.raises(ContentDecodeError, match="encoding"):
        registry.decode(EncodedContent(TEXT, b"x", {"encoding": "latin-1"}))
    with pytest.raises(ContentDecodeError, match="UTF-8"):
        registry.decode(EncodedContent(TEXT, b"\xff"))


def test_plaintext_envelope_v1() -> None:
    data = encode_plaintext_envelope(b"content", "1700000000000000000")
    parsed = content_pb2.PlaintextEnvelope.FromString(data)
    assert parsed.WhichOneof("content") == "v1"
    assert decode_plaintext_envelope(data) == PlaintextEnvelope(b"content", "1700000000000000000")
    with pytest.raises(ContentEncodeError):
        encode_plaintext_envelope(b"x", "bad \udc80 key")


def test_plaintext_envelope_v2_variants() -> None:
    v2_content = content_pb2.PlaintextEnvelope(v2=content_pb2.PlaintextEnvelope.V2(idempotency_key="k", content=b"c"))
    assert decode_plaintext_envelope(v2_content.SerializeToString()) == PlaintextEnvelope(b"c", "k")
    sync = content_pb2.PlaintextEnvelope(
        v2=content_pb2.PlaintextEnvelope.V2(
            idempotency_key="k", device_sync_request=sync_pb2.DeviceSyncRequest(pin="1234")
        )
    )
    assert decode_plaintext_envelope(sync.SerializeToString()) == DeviceSyncEnvelope("k", "device_sync_request")
    with pytest.raises(ContentDecodeError):
        decode_plaintext_envelope(b"")


def test_message_id_rule() -> None:
    expected = hashlib.sha256(b"group-1\t1700\tpayload").digest()
    assert message_id(b"group-1", "1700", b"payload") == expected
    assert message_id(b"group-1", "1701", b"payload") != expected


@pytest.mark.parametrize(
    "value",
    ["bad \udc80", Reaction("ab", "bad \udc80"), Markdown("\ud800"), Reply("\udfff", EncodedContent(TEXT))],
    ids=repr,
)
def test_unencodable_text_raises_content_encode_error(value: object) -> None:
    with pytest.raises(ContentEncodeError):
        default_registry().prepare(value)
