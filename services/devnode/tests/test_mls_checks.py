"""Unit tests for the TLS reader, the MLS framing peek and the key-package parser, on hand-built bytes."""

from __future__ import annotations

import json

import pytest
from devnode.errors import InvalidInput, MalformedData
from devnode.framing import parse_group_message
from devnode.keypackage import parse_key_package
from devnode.tls import TlsReader, encode_varint, encode_vector
from devnode_testkit import (
    SHARED_VECTORS,
    KeyPackageParts,
    key_package,
    private_message,
    public_message,
    u8,
    u16,
    u64,
)


@pytest.mark.parametrize(
    ("encoded", "value"),
    [("00", 0), ("3f", 63), ("4040", 64), ("7fff", 16383), ("80004000", 16384), ("bfffffff", 2**30 - 1)],
)
def test_varint_decodes_and_round_trips(encoded: str, value: int) -> None:
    assert TlsReader(bytes.fromhex(encoded)).varint() == value
    assert encode_varint(value).hex() == encoded


@pytest.mark.parametrize("encoded", ["4001", "80000001", "c000000000000000"])
def test_varint_rejects_non_minimal_and_8_byte_forms(encoded: str) -> None:
    with pytest.raises(MalformedData):
        TlsReader(bytes.fromhex(encoded)).varint()


def test_deserialization_vectors() -> None:
    for case in json.loads((SHARED_VECTORS / "deserialization.json").read_text()):
        assert TlsReader(bytes.fromhex(case["vlbytes_header"])).varint() == case["length"]


def test_vector_truncated() -> None:
    with pytest.raises(MalformedData, match="truncated"):
        TlsReader(encode_vector(b"abcdef")[:-1]).vector()


def test_private_message_application_and_commit() -> None:
    app = parse_group_message(private_message(b"g1", content_type=1, epoch=9))
    assert (app.group_id, app.epoch, app.is_commit) == (b"g1", 9, False)
    assert parse_group_message(private_message(b"g1", content_type=3)).is_commit


def test_public_message_commit_with_each_sender_type() -> None:
    for sender_type in (1, 2, 3, 4):
        info = parse_group_message(public_message(b"grp", content_type=3, sender_type=sender_type))
        assert info.group_id == b"grp" and info.is_commit
    assert not parse_group_message(public_message(b"grp", content_type=2)).is_commit


def test_official_message_vectors_classify() -> None:
    for case in json.loads((SHARED_VECTORS / "messages.json").read_text())[:50]:
        assert parse_group_message(bytes.fromhex(case["public_message_commit"])).is_commit
        assert not parse_group_message(bytes.fromhex(case["public_message_application"])).is_commit
        parse_group_message(bytes.fromhex(case["private_message"]))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "truncated"),
        (b"\x00\x02" + private_message(b"g")[2:], "version"),
        (u16(1) + u16(3) + encode_vector(b"g"), "wire_format"),
        (u16(1) + u16(2) + encode_vector(b"") + u64(0) + u8(1), "empty group_id"),
        (u16(1) + u16(2) + encode_vector(b"g") + u64(0) + u8(9), "content_type"),
        (private_message(b"g") + b"\x00", "trailing"),
        (private_message(b"g")[:-1], "truncated"),
        (private_message(b"g", ciphertext=b""), "empty ciphertext"),
        (u16(1) + u16(1) + encode_vector(b"g") + u64(0) + u8(7), "sender_type"),
    ],
)
def test_bad_group_messages(data: bytes, reason: str) -> None:
    with pytest.raises(MalformedData, match=reason):
        parse_group_message(data)


def test_key_package_installation_key_is_leaf_signature_key() -> None:
    kp, pub = key_package()
    info = parse_key_package(kp)
    assert info.installation_key == pub
    assert info.cipher_suite == 3
    assert info.credential_identity.startswith(b"\x0a\x40")


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        (KeyPackageParts(version=2), "version"),
        (KeyPackageParts(suite=0x4D), "ciphersuite"),
        (KeyPackageParts(leaf_source=2), "leaf_node_source"),
        (KeyPackageParts(corrupt_leaf_signature=True), "LeafNodeTBS"),
        (KeyPackageParts(corrupt_signature=True), "KeyPackageTBS"),
        (KeyPackageParts(same_init_and_encryption_key=True), "init_key"),
        (KeyPackageParts(not_before=10, not_after=20), "expired"),
        (KeyPackageParts(not_before=2**40, not_after=2**41), "not valid yet"),
        (KeyPackageParts(trailing=b"\x00"), "trailing"),
    ],
)
def test_bad_key_packages(parts: KeyPackageParts, reason: str) -> None:
    kp, _ = key_package(parts=parts)
    with pytest.raises(InvalidInput, match=reason):
        parse_key_package(kp)


def test_garbage_key_package() -> None:
    with pytest.raises(MalformedData):
        parse_key_package(b"\x00\x01\x00\x03garbage")


def test_official_key_packages_verify_for_every_suite() -> None:
    cases = json.loads((SHARED_VECTORS / "passive-client-welcome.json").read_text())
    suites = set()
    for case in cases:
        kp = bytes.fromhex(case["key_package"])[4:]  # strip the MLSMessage(version, wire_format=5) header
        reader = TlsReader(kp)
        reader.u16(), reader.u16(), reader.vector(), reader.vector()
        expected_key = reader.vector()
        # The vectors' lifetimes are long past: verify them as of a moment inside their lifetime.
        info = parse_key_package(kp, now=_lifetime_midpoint(kp))
        assert info.installation_key == expected_key
        suites.add(info.cipher_suite)
    assert suites == {1, 2, 3, 4, 5, 6, 7}


def _lifetime_midpoint(kp: bytes) -> int:
    with pytest.raises(InvalidInput) as excinfo:
        parse_key_package(kp, now=2**63)
    assert "expired" in str(excinfo.value)  # signatures passed; only the clock is wrong
    reader = TlsReader(kp)
    reader.u16(), reader.u16(), reader.vector(), reader.vector(), reader.vector()
    reader.u16(), reader.vector()  # basic credential
    for _ in range(5):
        reader.vector()
    reader.u8()
    not_before, not_after = reader.u64(), reader.u64()
    return (not_before + not_after) // 2


def test_official_key_package_with_flipped_byte_fails() -> None:
    case = json.loads((SHARED_VECTORS / "passive-client-welcome.json").read_text())[16]
    kp = bytearray(bytes.fromhex(case["key_package"])[4:])
    kp[10] ^= 0x01  # inside init_key: covered by the KeyPackageTBS signature
    with pytest.raises(InvalidInput, match="signature"):
        parse_key_package(bytes(kp), now=_lifetime_midpoint(bytes.fromhex(case["key_package"])[4:]))
