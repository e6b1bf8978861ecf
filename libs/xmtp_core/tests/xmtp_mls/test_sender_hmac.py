"""sender_hmac (reference §5), checked against an independent RFC 5869 HKDF written with hmac/hashlib."""

from __future__ import annotations

import hashlib
import hmac
import struct

from xmtp_core.xmtp_mls.sender_hmac import (
    HMAC_EPOCH_SECONDS,
    derive_hmac_key,
    generate_hmac_key,
    hmac_epoch,
    push_hmac_keys,
    sender_hmac,
)


def _hkdf(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block = b"", b""
    for counter in range(1, 1 + (length + 31) // 32):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
    return out[:length]


def test_key_matches_the_reference_construction() -> None:
    user_key, group_id, epoch = bytes(range(42)), b"\x01group-id", 678
    expected = _hkdf(b"libXMTP HKDF salt!", user_key + group_id, group_id + struct.pack("<q", epoch), 42)
    assert derive_hmac_key(user_key, group_id, epoch) == expected
    assert len(expected) == 42


def test_sender_hmac_is_hmac_sha256_over_the_payload_with_the_epoch_key() -> None:
    user_key, group_id, payload = generate_hmac_key(), b"g" * 16, b"\x00\x01mls message bytes"
    now = 1_760_000_000
    key = _hkdf(b"libXMTP HKDF salt!", user_key + group_id, group_id + struct.pack("<q", now // 2_592_000), 42)
    assert sender_hmac(user_key, group_id, payload, unix_seconds=now) == hmac.new(key, payload, "sha256").digest()


def test_epoch_is_thirty_days_and_changes_the_mac() -> None:
    assert HMAC_EPOCH_SECONDS == 30 * 24 * 3600
    boundary = 650 * HMAC_EPOCH_SECONDS
    assert hmac_epoch(boundary - 1) == 649 and hmac_epoch(boundary) == 650
    key, gid = generate_hmac_key(), b"gid"
    assert sender_hmac(key, gid, b"x", unix_seconds=boundary - 1) != sender_hmac(key, gid, b"x", unix_seconds=boundary)


def test_push_keys_cover_previous_current_and_next_epoch() -> None:
    key, gid, now = generate_hmac_key(), b"gid", 700 * HMAC_EPOCH_SECONDS + 5
    keys = push_hmac_keys(key, gid, unix_seconds=now)
    assert sorted(keys) == [699, 700, 701]
    assert keys[700] == derive_hmac_key(key, gid, 700)
    assert len(set(keys.values())) == 3
