"""Unit tests for devnode's MLS payload checks (`devnode.mls_checks`) on hand-built bytes and RFC 9420 vectors.

The TLS codec and the framing peek themselves are tested in xmtp_core (tests/mls/test_codec.py,
test_framing_peek.py); here we test what the node accepts and the reasons it gives."""

from __future__ import annotations

import json

import pytest
from devnode.errors import InvalidInput
from devnode.mls_checks import group_message_header, key_package_inbox_id, verify_key_package
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
from xmtp_core.mls.codec import Reader, encode_vec
from xmtp_core.mls.key_package import KeyPackage


def test_private_message_application_and_commit() -> None:
    app = group_message_header(private_message(b"g1", content_type=1, epoch=9))
    assert (app.group_id, app.epoch, app.is_commit) == (b"g1", 9, False)
    assert group_message_header(private_message(b"g1", content_type=3)).is_commit


def test_public_message_commit_with_each_sender_type() -> None:
    for sender_type in (1, 2, 3, 4):
        info = group_message_header(public_message(b"grp", content_type=3, sender_type=sender_type))
        assert info.group_id == b"grp" and info.is_commit
    assert not group_message_header(public_message(b"grp", content_type=2)).is_commit


def test_official_message_vectors_classify() -> None:
    for case in json.loads((SHARED_VECTORS / "messages.json").read_text())[:50]:
        assert group_message_header(bytes.fromhex(case["public_message_commit"])).is_commit
        assert not group_message_header(bytes.fromhex(case["public_message_application"])).is_commit
        group_message_header(bytes.fromhex(case["private_message"]))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "MLS message: truncated"),
        (b"\x00\x02" + private_message(b"g")[2:], "version"),
        (u16(1) + u16(3) + encode_vec(b"g"), "wire format"),
        (private_message(b""), "empty group_id"),
        (u16(1) + u16(2) + encode_vec(b"g") + u64(0) + u8(9) + encode_vec(b"") * 3, "content type"),
        (private_message(b"g") + b"\x00", "trailing"),
        (private_message(b"g")[:-1], "truncated"),
        (u16(1) + u16(1) + encode_vec(b"g") + u64(0) + u8(7), "sender type"),
    ],
)
def test_bad_group_messages(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        group_message_header(data)


def test_key_package_installation_key_is_leaf_signature_key() -> None:
    kp, pub = key_package()
    verified = verify_key_package(kp)
    assert verified.installation_key == pub
    assert verified.key_package.cipher_suite == 3
    assert key_package_inbox_id(verified.key_package) == "a" * 64


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        (KeyPackageParts(version=2), "version"),
        (KeyPackageParts(suite=0x4D), "unsupported ciphersuite 0x004d"),
        (KeyPackageParts(leaf_source=2), "decode"),  # an update leaf has no lifetime: the layout differs
        (KeyPackageParts(corrupt_leaf_signature=True), "LeafNode signature"),
        (KeyPackageParts(corrupt_signature=True), "KeyPackage signature"),
        (KeyPackageParts(same_init_and_encryption_key=True), "init_key"),
        (KeyPackageParts(not_before=10, not_after=20), "expired"),
        (KeyPackageParts(not_before=2**40, not_after=2**41), "not valid yet"),
        (KeyPackageParts(not_before=2**40, not_after=2**39), "not_before is after not_after"),
        (KeyPackageParts(trailing=b"\x00"), "trailing"),
    ],
)
def test_bad_key_packages(parts: KeyPackageParts, reason: str) -> None:
    kp, _ = key_package(parts=parts)
    with pytest.raises(InvalidInput, match=reason):
        verify_key_package(kp)


def test_key_package_not_before_within_clock_skew_is_accepted() -> None:
    kp, _ = key_package(parts=KeyPackageParts(not_before=1_000_000 + 3000, not_after=2_000_000))
    assert verify_key_package(kp, now=1_000_000).lifetime.not_before == 1_003_000


@pytest.mark.parametrize(("inbox_id", "reason"), [("", "no inbox_id"), ("A" * 64, "64 lowercase hex")])
def test_key_package_credential_must_name_an_inbox(inbox_id: str, reason: str) -> None:
    kp, _ = key_package(parts=KeyPackageParts(inbox_id=inbox_id))
    with pytest.raises(InvalidInput, match=reason):
        key_package_inbox_id(verify_key_package(kp).key_package)


def test_garbage_key_package() -> None:
    with pytest.raises(InvalidInput, match="does not decode"):
        verify_key_package(b"\x00\x01\x00\x03garbage")


def _vector_key_packages() -> list[bytes]:
    cases = json.loads((SHARED_VECTORS / "passive-client-welcome.json").read_text())
    return [bytes.fromhex(case["key_package"])[4:] for case in cases]  # strip MLSMessage(version, wire_format=5)


def _leaf_signature_key(kp: bytes) -> bytes:
    """Read field by field rather than with the struct decoder under test: version, suite, init_key,
    encryption_key, then signature_key."""
    reader = Reader(kp)
    reader.u16(), reader.u16(), reader.vec(), reader.vec()
    return reader.vec()


def _lifetime_midpoint(kp: bytes) -> int:
    with pytest.raises(InvalidInput, match="expired"):  # signatures passed; only the clock is wrong
        verify_key_package(kp, now=2**63)
    lifetime = KeyPackage.from_bytes(kp).leaf_node.lifetime
    assert lifetime is not None
    return (lifetime.not_before + lifetime.not_after) // 2


def test_official_key_packages_verify_for_every_suite() -> None:
    suites = set()
    for kp in _vector_key_packages():
        # The vectors' lifetimes are long past: verify them as of a moment inside their lifetime.
        verified = verify_key_package(kp, now=_lifetime_midpoint(kp))
        assert verified.installation_key == _leaf_signature_key(kp)
        suites.add(verified.key_package.cipher_suite)
    assert suites == {1, 2, 3, 4, 5, 6, 7}


def test_official_key_package_with_flipped_byte_fails() -> None:
    kp = _vector_key_packages()[16]
    tampered = bytearray(kp)
    tampered[10] ^= 0x01  # inside init_key: covered by the KeyPackageTBS signature
    with pytest.raises(InvalidInput, match="signature"):
        verify_key_package(bytes(tampered), now=_lifetime_midpoint(kp))
