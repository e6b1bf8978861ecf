"""``GroupMessageInput.V1.sender_hmac`` (reference xmtp-identity.md §5).

key = HKDF-SHA256(salt "libXMTP HKDF salt!", ikm = hmac_key ‖ group_id, info = group_id ‖ i64_le(epoch), L=42);
sender_hmac = HMAC-SHA256(key, payload) over the exact ``data`` bytes sent; epoch = floor(unix_s / 30 days).
Nobody verifies it (nodes store it, receivers ignore it); it only lets push servers suppress our own messages.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HMAC_SALT = b"libXMTP HKDF salt!"
HMAC_KEY_LEN = 42
HMAC_EPOCH_SECONDS = 2_592_000  # 30 days


def generate_hmac_key() -> bytes:
    """A per-user hmac_key: 42 random bytes, stored once and shared with the user's other installations."""
    return os.urandom(HMAC_KEY_LEN)


def hmac_epoch(unix_seconds: int | None = None) -> int:
    """The 30-day HMAC epoch ``unix_seconds`` (default: now) falls in."""
    now = int(time.time()) if unix_seconds is None else unix_seconds
    return now // HMAC_EPOCH_SECONDS


def derive_hmac_key(hmac_key: bytes, group_id: bytes, epoch: int) -> bytes:
    """The per-group, per-epoch HMAC key (42 bytes)."""
    info = group_id + epoch.to_bytes(8, "little", signed=True)
    return HKDF(algorithm=hashes.SHA256(), length=HMAC_KEY_LEN, salt=HMAC_SALT, info=info).derive(hmac_key + group_id)


def sender_hmac(hmac_key: bytes, group_id: bytes, payload: bytes, *, unix_seconds: int | None = None) -> bytes:
    """HMAC-SHA256 of ``payload`` under the group's key for the current HMAC epoch."""
    key = derive_hmac_key(hmac_key, group_id, hmac_epoch(unix_seconds))
    return hmac.new(key, payload, hashlib.sha256).digest()


def push_hmac_keys(hmac_key: bytes, group_id: bytes, *, unix_seconds: int | None = None) -> dict[int, bytes]:
    """Keys for epochs -1, 0 and +1 around now, as ``getHmacKeys`` hands them to push servers."""
    current = hmac_epoch(unix_seconds)
    return {epoch: derive_hmac_key(hmac_key, group_id, epoch) for epoch in (current - 1, current, current + 1)}
