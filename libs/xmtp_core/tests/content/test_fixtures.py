"""libxmtp's cross-SDK content fixture: every entry decodes, and deterministic ones re-encode byte-for-byte."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

import pytest
from xmtp_core.content import (
    Attachment,
    EncodedContent,
    GroupUpdated,
    Markdown,
    Reaction,
    ReactionAction,
    ReactionSchema,
    ReadReceipt,
    RemoteAttachment,
    Reply,
    TransactionReference,
    WalletSendCalls,
    default_registry,
)

FIXTURE = Path(__file__).parent / "fixtures" / "serialized_content.json"
ENTRIES = json.loads(FIXTURE.read_text())

EXPECTED_TYPES: dict[str, type] = {
    "text": str,
    "markdown": Markdown,
    "reaction": Reaction,
    "reply": Reply,
    "readReceipt": ReadReceipt,
    "attachment": Attachment,
    "remoteAttachment": RemoteAttachment,
    "transactionReference": TransactionReference,
    "groupUpdated": GroupUpdated,
    "walletSendCalls": WalletSendCalls,
}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _wire_parameter_keys(data: bytes) -> list[str]:
    """Parameter keys in the order they appear on the wire (protobuf libraries don't expose map order)."""
    keys: list[str] = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        assert tag & 7 in (0, 2), "fixture uses only varint and length-delimited fields"
        value, pos = _varint(data, pos)
        if tag & 7 == 2:
            payload, pos = data[pos : pos + value], pos + value
            if tag >> 3 == 2:
                assert payload[0] == 0x0A, "map entry starts with its key field"
                key_len, key_start = _varint(payload, 1)
                keys.append(payload[key_start : key_start + key_len].decode())
    return keys


def _ids(entry: dict[str, str]) -> str:
    return f"{entry['contentType']}: {entry['description']}"


def test_fixture_covers_expected_types() -> None:
    assert {e["contentType"] for e in ENTRIES} == set(EXPECTED_TYPES)
    assert len(ENTRIES) >= 20


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids)
def test_fixture_entry_decodes(entry: dict[str, str]) -> None:
    decoded = default_registry().decode_bytes(base64.b64decode(entry["encodedContent"]))
    assert decoded.known
    assert isinstance(decoded.value, EXPECTED_TYPES[entry["contentType"]])


@pytest.mark.parametrize("entry", ENTRIES, ids=_ids)
def test_fixture_entry_reencodes(entry: dict[str, str]) -> None:
    registry = default_registry()
    original = base64.b64decode(entry["encodedContent"])
    decoded = registry.decode_bytes(original)
    reencoded = registry.encode(decoded.value, content_type=decoded.content_type)
    # The fixture was written without fallbacks; our codecs add the reference fallback texts.
    stripped = dataclasses.replace(reencoded, fallback=None)
    keys = _wire_parameter_keys(original)
    if keys == sorted(keys):
        assert stripped.to_bytes() == original
    else:
        # Written from a hash map in arbitrary order: only the content can be compared.
        assert stripped == EncodedContent.from_bytes(original)


def _decode(description: str) -> object:
    entry = next(e for e in ENTRIES if e["description"] == description)
    return default_registry().decode_bytes(base64.b64decode(entry["encodedContent"])).value


def test_fixture_values() -> None:
    assert _decode("Simple text message") == "Hello, World!"
    assert _decode("Reaction with optional referenceInboxId") == Reaction(
        reference="message-id-456",
        content="❤️",
        action=ReactionAction.REMOVED,
        schema=ReactionSchema.UNICODE,
        reference_inbox_id="inbox-id-789",
    )
    reply = _decode("Reply with optional referenceInboxId")
    assert isinstance(reply, Reply)
    assert reply.reference == "original-message-id"
    assert reply.reference_inbox_id == "sender-inbox-id"
    assert default_registry().decode(reply.content).value == "Reply with inbox ID"
    remote = _decode("Remote attachment with optional filename")
    assert isinstance(remote, RemoteAttachment)
    assert remote.filename == "important-document.pdf"
    assert remote.secret == bytes([4]) * 32
    assert remote.nonce == bytes([6]) * 12
    assert remote.content_length == 2048
    tx = _decode("Ethereum transaction reference")
    assert isinstance(tx, TransactionReference)
    assert tx.network_id == 1
    assert tx.metadata is not None and tx.metadata.amount == 1.5 and tx.metadata.decimals == 18
    group = _decode("Group name updated")
    assert isinstance(group, GroupUpdated)
    assert group.metadata_field_changes[0].field_name == "group_name"
    assert group.metadata_field_changes[0].new_value == "New Name"
