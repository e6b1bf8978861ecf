"""Database encryption keys: parsing `XMTP_DB_ENCRYPTION_KEY`, key ids, per-column subkeys and the key ring.

The master key is 32 bytes given as 64 hex characters (an optional `0x` prefix is accepted, as the Agent SDK
does). Every encrypted column gets its own AES-256-GCM key derived with HKDF-SHA256, so a key leaked for one
purpose opens nothing else. Key objects never show their material in `repr`/`str`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from xmtp_core.store.errors import KeyConfigError

KEY_ENV = "XMTP_DB_ENCRYPTION_KEY"
KEY_ID_LEN = 8
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
_HKDF_SALT = b"xmtp-core/store/v1"


class EncryptionKey:
    """One 32-byte master key. Compares and hashes by key id; its bytes stay private."""

    __slots__ = ("_material", "_subkeys", "key_id")

    def __init__(self, material: bytes) -> None:
        if len(material) != 32:
            raise KeyConfigError(f"database encryption key must be 32 bytes, got {len(material)}")
        self._material = bytes(material)
        # The id is a one-way function of the key, so it can sit next to every ciphertext without revealing it.
        self.key_id: bytes = _hkdf(self._material, b"key-id", KEY_ID_LEN)
        self._subkeys: dict[str, AESGCM] = {}

    @classmethod
    def from_hex(cls, text: str) -> EncryptionKey:
        """Parse 64 hex characters (optionally `0x`-prefixed); the error never echoes the input."""
        candidate = text.strip()
        if candidate[:2] in ("0x", "0X"):
            candidate = candidate[2:]
        if not _HEX_KEY.fullmatch(candidate):
            raise KeyConfigError(
                f"database encryption key must be 64 hex characters (32 bytes), got {len(candidate)} characters"
                + ("" if all(c in "0123456789abcdefABCDEF" for c in candidate) else " including non-hex ones")
            )
        return cls(bytes.fromhex(candidate))

    @classmethod
    def generate(cls) -> EncryptionKey:
        return cls(os.urandom(32))

    def aead_for(self, purpose: str) -> AESGCM:
        """The AES-256-GCM instance for one purpose (e.g. `group_states.state`), derived once and cached."""
        aead = self._subkeys.get(purpose)
        if aead is None:
            aead = AESGCM(_hkdf(self._material, b"column-key/" + purpose.encode(), 32))
            self._subkeys[purpose] = aead
        return aead

    def hex(self) -> str:
        """The key as 64 hex characters, for writing it to a secret store; never log this."""
        return self._material.hex()

    def __repr__(self) -> str:
        return f"EncryptionKey(key_id={self.key_id.hex()}, material=<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EncryptionKey) and other.key_id == self.key_id

    def __hash__(self) -> int:
        return hash(self.key_id)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would copy the material somewhere we cannot see; refuse instead.
        raise TypeError("EncryptionKey cannot be pickled")


class KeyRing:
    """The key new ciphertexts use, plus older keys still accepted for reading (during a rotation)."""

    def __init__(self, current: EncryptionKey, previous: Iterable[EncryptionKey] = ()) -> None:
        self.current = current
        self._by_id: dict[bytes, EncryptionKey] = {k.key_id: k for k in previous}
        self._by_id[current.key_id] = current

    def find(self, key_id: bytes) -> EncryptionKey | None:
        return self._by_id.get(key_id)

    def __repr__(self) -> str:
        ids = ", ".join(key_id.hex() for key_id in self._by_id)
        return f"KeyRing(current={self.current.key_id.hex()}, known=[{ids}])"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> KeyRing:
        """Current key from `XMTP_DB_ENCRYPTION_KEY`(`_FILE`); older ones, comma-separated, from `..._PREVIOUS`."""
        env = os.environ if environ is None else environ
        current = key_from_env(KEY_ENV, env)
        return cls(current, keys_from_env(KEY_ENV + "_PREVIOUS", env))


def key_from_env(name: str, environ: Mapping[str, str] | None = None) -> EncryptionKey:
    """One required key from env var `name`, or from the file named by `name_FILE` (a mounted secret)."""
    keys = keys_from_env(name, environ)
    if len(keys) != 1:
        raise KeyConfigError(f"{name} (or {name}_FILE) must hold exactly one key, found {len(keys)}")
    return keys[0]


def keys_from_env(name: str, environ: Mapping[str, str] | None = None) -> list[EncryptionKey]:
    """Zero or more comma-separated keys from env var `name` or the file named by `name_FILE`."""
    env = os.environ if environ is None else environ
    raw = env.get(name)
    path = env.get(name + "_FILE")
    if raw and path:
        raise KeyConfigError(f"set either {name} or {name}_FILE, not both")
    if path:
        try:
            raw = Path(path).read_text()
        except OSError as exc:
            raise KeyConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None
    if not raw or not raw.strip():
        return []
    keys: list[EncryptionKey] = []
    for index, part in enumerate(raw.split(",")):
        try:
            keys.append(EncryptionKey.from_hex(part))
        except KeyConfigError as exc:
            raise KeyConfigError(f"{name} entry {index}: {exc}") from None
    return keys


def _hkdf(ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=_HKDF_SALT, info=info).derive(ikm)
