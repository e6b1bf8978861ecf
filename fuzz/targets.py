"""Fuzz targets: every parser that reads bytes an attacker (a peer, the node, a bus publisher) controls, each with
the typed errors it may answer with. Anything else it raises is a finding.

Shared by `fuzz/run.py` (atheris, `make fuzz`) and `tests/test_fuzz_targets.py` (hypothesis, in `make test`).
Each target also has seeds: valid inputs, so mutations start past the first length check.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import DecodeError as ProtoDecodeError
from xmtp_core.bus.schemas import (
    DeadLetter,
    Event,
    MessageEvent,
    OutboundCommand,
    RejectedEvent,
    SchemaError,
    dump,
    parse,
)
from xmtp_core.content import default_registry
from xmtp_core.content.envelope import decode_plaintext_envelope, encode_plaintext_envelope
from xmtp_core.content.errors import ContentError
from xmtp_core.envelopes import GroupMessage, WelcomeMessage
from xmtp_core.identity.codec import decode_update
from xmtp_core.identity.errors import IdentityError
from xmtp_core.mls.errors import MLSError
from xmtp_core.mls.framing import MLSMessage, PrivateMessage
from xmtp_core.protos.identity.associations import association_pb2
from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.xmtp_mls.errors import XmtpMlsError
from xmtp_core.xmtp_mls.key_package import build_key_package, parse_key_package


@dataclass(frozen=True)
class Target:
    """A parser, the exceptions that are its typed answers to bad input, and valid inputs to start from."""

    name: str
    run: Callable[[bytes], object]
    expected: tuple[type[BaseException], ...]
    seeds: Callable[[], list[bytes]]


def _mls_seeds() -> list[bytes]:
    private = PrivateMessage(os.urandom(16), 1, 1, b"", os.urandom(12), os.urandom(24))
    return [MLSMessage.wrap(private).to_bytes()]


def _group_message(data: bytes) -> object:
    return GroupMessage.from_proto(mls_pb2.GroupMessage.FromString(data))


def _group_message_seeds() -> list[bytes]:
    v1 = mls_pb2.GroupMessage.V1(id=7, created_ns=1, group_id=os.urandom(16), data=_mls_seeds()[0], is_commit=False)
    return [mls_pb2.GroupMessage(v1=v1).SerializeToString()]


def _welcome_message(data: bytes) -> object:
    return WelcomeMessage.from_proto(mls_pb2.WelcomeMessage.FromString(data))


def _welcome_seeds() -> list[bytes]:
    v1 = mls_pb2.WelcomeMessage.V1(id=3, installation_key=os.urandom(32), data=os.urandom(64))
    return [mls_pb2.WelcomeMessage(v1=v1).SerializeToString()]


_REGISTRY = default_registry()


def _content_seeds() -> list[bytes]:
    return [_REGISTRY.encode("hello").to_bytes()]


def _identity_update(data: bytes) -> object:
    return decode_update(association_pb2.IdentityUpdate.FromString(data))


def _identity_seeds() -> list[bytes]:
    return [association_pb2.IdentityUpdate(inbox_id="ab" * 32, client_timestamp_ns=1).SerializeToString()]


def _command_seeds() -> list[bytes]:
    text = {"v": 1, "type": "text", "agent": "echo", "conversation_id": "ab" * 16, "idempotency_key": "k1"}
    text["text"] = "hi"
    react = {**text, "type": "reaction", "reference": "cd" * 32, "action": "added", "content": "+1"}
    del react["text"]
    return [json.dumps(text).encode(), json.dumps(react).encode()]


def _event_seeds() -> list[bytes]:
    message = MessageEvent(
        agent="echo", event_id="g1:7:0", message_id="ab" * 32, conversation_id="cd" * 16, sender_inbox_id="ef" * 32,
        sender_installation="01" * 32, sent_ns=1, content_type="xmtp.org/text:1.0",
        encoded_content=_REGISTRY.encode("hi").to_bytes(),
    )  # fmt: skip
    rejected = RejectedEvent(agent="echo", event_id="g1:8:0", conv="g" + "ab" * 16, envelope_id=8, reason="tampered")
    return [dump(message), dump(rejected)]


def _key_package_seeds() -> list[bytes]:
    return [build_key_package(os.urandom(32).hex(), os.urandom(32)).key_package.to_bytes()]


def _dead_letter_seeds() -> list[bytes]:
    return [DeadLetter.build("crypto", "r", b"x", stream="SB_IN", subject="sb.in.1.a.gab").model_dump_json().encode()]


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("mls_message", MLSMessage.from_bytes, (MLSError,), _mls_seeds),
        Target("group_message_proto", _group_message, (ProtoDecodeError, ValueError), _group_message_seeds),
        Target("welcome_message_proto", _welcome_message, (ProtoDecodeError, ValueError), _welcome_seeds),
        Target(
            "plaintext_envelope",
            decode_plaintext_envelope,
            (ContentError, XmtpMlsError),
            lambda: [encode_plaintext_envelope(b"content", "key-1")],
        ),
        Target("content", _REGISTRY.decode_bytes, (ContentError,), _content_seeds),
        Target("identity_update", _identity_update, (ProtoDecodeError, IdentityError), _identity_seeds),
        Target("key_package", parse_key_package, (MLSError, XmtpMlsError), _key_package_seeds),
        Target("outbound_command", lambda d: parse(OutboundCommand, d), (SchemaError,), _command_seeds),
        Target("bus_event", lambda d: parse(Event, d), (SchemaError,), _event_seeds),
        Target("dead_letter", lambda d: parse(DeadLetter, d), (SchemaError,), _dead_letter_seeds),
    )
}


def check(target: Target, data: bytes) -> None:
    """Run one input: a typed refusal or a result is fine; anything else propagates (a finding)."""
    with contextlib.suppress(*target.expected):
        target.run(data)
