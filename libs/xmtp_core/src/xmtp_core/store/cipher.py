"""Column encryption: AES-256-GCM ciphertexts bound to the exact place (table, column, primary key) they live in.

Format of a stored value: `version (1) ‖ key id (8) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.
The associated data is the header plus the location, so a ciphertext copied to another row or column, or
re-labelled with another key id, fails authentication instead of decrypting to someone else's secret.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag

from xmtp_core.store.errors import DecryptionError
from xmtp_core.store.keys import KEY_ID_LEN, EncryptionKey, KeyRing

FORMAT_VERSION = 1
NONCE_LEN = 12
TAG_LEN = 16
HEADER_LEN = 1 + KEY_ID_LEN + NONCE_LEN

PkPart = str | bytes | int


@dataclass(frozen=True)
class FieldRef:
    """Where a ciphertext lives: its table, its column and its row's primary key values (in key order)."""

    table: str
    column: str
    pk: tuple[PkPart, ...]

    @property
    def purpose(self) -> str:
        return f"{self.table}.{self.column}"

    def __str__(self) -> str:
        # Primary keys here are ids and hashes, not secrets; showing them makes errors actionable.
        shown = ", ".join(v.hex() if isinstance(v, bytes) else repr(v) for v in self.pk)
        return f"{self.purpose}[{shown}]"

    def associated_data(self) -> bytes:
        parts = [_lp(self.table.encode()), _lp(self.column.encode()), struct.pack(">H", len(self.pk))]
        parts.extend(_encode_pk_part(v) for v in self.pk)
        return b"".join(parts)


class FieldCipher:
    """Encrypts with the key ring's current key; decrypts with whichever known key the ciphertext names."""

    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    def encrypt(self, where: FieldRef, plaintext: bytes) -> bytes:
        return encrypt_with(self.keys.current, where, plaintext)

    def decrypt(self, where: FieldRef, blob: bytes) -> bytes:
        key_id = header_key_id(where, blob)
        key = self.keys.find(key_id)
        if key is None:
            raise DecryptionError(f"{where}: encrypted with unknown key id {key_id.hex()} (wrong or missing key)")
        return decrypt_with(key, where, blob)

    def needs_rotation(self, where: FieldRef, blob: bytes) -> bool:
        return header_key_id(where, blob) != self.keys.current.key_id


def encrypt_with(key: EncryptionKey, where: FieldRef, plaintext: bytes) -> bytes:
    header = bytes([FORMAT_VERSION]) + key.key_id + os.urandom(NONCE_LEN)
    sealed = key.aead_for(where.purpose).encrypt(header[-NONCE_LEN:], plaintext, header + where.associated_data())
    return header + sealed


def decrypt_with(key: EncryptionKey, where: FieldRef, blob: bytes) -> bytes:
    header_key_id(where, blob)
    header, sealed = blob[:HEADER_LEN], blob[HEADER_LEN:]
    try:
        return key.aead_for(where.purpose).decrypt(header[-NONCE_LEN:], sealed, header + where.associated_data())
    except InvalidTag:
        raise DecryptionError(
            f"{where}: authentication failed (wrong key, tampered value, or ciphertext from another row/column)"
        ) from None


def header_key_id(where: FieldRef, blob: bytes) -> bytes:
    """The key id a ciphertext names, after checking its version and length."""
    if len(blob) < HEADER_LEN + TAG_LEN:
        raise DecryptionError(f"{where}: ciphertext too short ({len(blob)} bytes)")
    if blob[0] != FORMAT_VERSION:
        raise DecryptionError(f"{where}: unknown ciphertext format version {blob[0]}")
    return bytes(blob[1 : 1 + KEY_ID_LEN])


def _lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _encode_pk_part(value: PkPart) -> bytes:
    # Typed tags keep the int 1, the string "1" and the byte b"1" from encoding alike.
    if isinstance(value, bool):
        raise TypeError("booleans are not primary key parts")
    if isinstance(value, int):
        return b"i" + _lp(value.to_bytes(16, "big", signed=True))
    if isinstance(value, str):
        return b"s" + _lp(value.encode())
    return b"b" + _lp(bytes(value))
