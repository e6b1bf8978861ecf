"""RFC 9180 DHKEMs: X25519, X448, P-256, P-384 and P-521, with the RFC's DeriveKeyPair.

Keys are bytes in HPKE Serialize{Private,Public}Key form: raw 32/56 bytes for X25519/X448; for the NIST curves
the private key is the big-endian scalar padded to Nsk and the public key the uncompressed SEC1 point.
Private keys of any other length are rejected, including NIST scalars written without their leading zero bytes:
RFC 9180 §7.1.2 defines SerializePrivateKey as the fixed-width SECG Field-Element-to-Octet-String conversion,
and every key this library generates has that width. Keys from encoders that drop the zeros are padded where
they enter (the conformance runner's ``hpke_private_key``), not here.
The ``Kem`` protocol is what HPKE and cipher suites plug in; ``xwing`` provides a further implementation.

Loaded private keys are kept in a small per-KEM :class:`KeyCache` (loading one costs a scalar multiplication);
Encap uses a freshly generated key object directly, so ephemeral keys are never serialised, reloaded or cached.
Callers that delete private keys (RFC 9420 §9.2) drop them from the caches too with :func:`forget_private_keys`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from functools import cached_property
from typing import Generic, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from xmtp_core.mls._key_cache import KeyCache
from xmtp_core.mls.errors import CryptoError, UnsupportedError
from xmtp_core.mls.kdf import SHA256, SHA384, SHA512, Kdf

HPKE_VERSION = b"HPKE-v1"
KEM_KEY_CACHE_SIZE = 32  # a member's leaf key plus the parent keys of its direct path, with room to spare


class Kem(Protocol):
    """A key-encapsulation mechanism as HPKE uses it."""

    kem_id: int
    n_secret: int
    n_enc: int
    n_pk: int
    n_sk: int

    def generate_key_pair(self) -> tuple[bytes, bytes]:
        """A fresh (private, public) key pair."""

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """The key pair DeriveKeyPair(ikm) gives (RFC 9180 §7.1.3)."""

    def public_key(self, sk: bytes) -> bytes:
        """The public key of private key ``sk``."""

    def encap(self, pk: bytes) -> tuple[bytes, bytes]:
        """(shared secret, enc) for ``pk``."""

    def decap(self, enc: bytes, sk: bytes) -> bytes:
        """The shared secret ``enc`` carries for ``sk``."""


def labeled_extract(kdf: Kdf, suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    """RFC 9180 §4 LabeledExtract."""
    return kdf.extract(salt, HPKE_VERSION + suite_id + label + ikm)


def labeled_expand(kdf: Kdf, suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    """RFC 9180 §4 LabeledExpand."""
    if not 0 <= length <= 0xFFFF:
        raise ValueError(f"LabeledExpand length {length} does not fit in two bytes")
    labeled_info = length.to_bytes(2, "big") + HPKE_VERSION + suite_id + label + info
    return kdf.expand(prk, labeled_info, length)


class DHKem(ABC):
    """DHKEM(Group, HKDF) of RFC 9180 §4.1; subclasses supply the group operations."""

    kem_id: int
    n_secret: int
    n_enc: int
    n_pk: int
    n_sk: int
    kdf: Kdf

    @cached_property
    def suite_id(self) -> bytes:
        """The KEM's suite_id for its labelled KDF calls."""
        return b"KEM" + self.kem_id.to_bytes(2, "big")

    @cached_property
    def _eae_labels(self) -> tuple[bytes, bytes]:
        """The constant parts of ExtractAndExpand's LabeledExtract input and LabeledExpand info (RFC 9180 §4)."""
        prefix = HPKE_VERSION + self.suite_id
        return prefix + b"eae_prk", self.n_secret.to_bytes(2, "big") + prefix + b"shared_secret"

    # Group operations ------------------------------------------------------------------------------------
    @abstractmethod
    def dh(self, sk: bytes, pk: bytes) -> bytes:
        """The Diffie-Hellman shared value of ``sk`` and ``pk``."""

    @abstractmethod
    def public_key(self, sk: bytes) -> bytes:
        """The public key of private key ``sk``."""

    @abstractmethod
    def derive_private_key(self, dkp_prk: bytes) -> bytes:
        """The private key DeriveKeyPair takes from ``dkp_prk``."""

    # KEM operations --------------------------------------------------------------------------------------
    def generate_key_pair(self) -> tuple[bytes, bytes]:
        """A fresh (private, public) key pair."""
        return self.derive_key_pair(os.urandom(self.n_sk))

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """The key pair DeriveKeyPair(ikm) gives (RFC 9180 §7.1.3)."""
        dkp_prk = labeled_extract(self.kdf, self.suite_id, b"", b"dkp_prk", ikm)
        sk = self.derive_private_key(dkp_prk)
        return sk, self.public_key(sk)

    def _extract_and_expand(self, dh: bytes, kem_context: bytes) -> bytes:
        # LabeledExtract(salt="", "eae_prk", dh) then LabeledExpand(eae_prk, "shared_secret", kem_context, Nsecret)
        extract_label, expand_label = self._eae_labels
        eae_prk = self.kdf.extract(b"", extract_label + dh)
        return self.kdf.expand(eae_prk, expand_label + kem_context, self.n_secret)

    def encap(self, pk: bytes) -> tuple[bytes, bytes]:
        """(shared secret, enc) for ``pk``, with a fresh ephemeral key."""
        dh, pk_e = self._ephemeral_dh(pk)
        return self._extract_and_expand(dh, pk_e + pk), pk_e

    def _ephemeral_dh(self, pk: bytes) -> tuple[bytes, bytes]:
        """DH of a fresh ephemeral key with ``pk``: (DH output, serialised ephemeral public key)."""
        sk_e, pk_e = self.generate_key_pair()
        return self.dh(sk_e, pk), pk_e

    def encap_with_ephemeral(self, pk: bytes, sk_e: bytes, pk_e: bytes) -> tuple[bytes, bytes]:
        """Deterministic Encap with a given ephemeral key pair (used by tests and known-answer checks)."""
        dh = self.dh(sk_e, pk)
        return self._extract_and_expand(dh, pk_e + pk), pk_e

    def decap(self, enc: bytes, sk: bytes) -> bytes:
        """The shared secret ``enc`` carries for ``sk``."""
        dh = self.dh(sk, enc)
        return self._extract_and_expand(dh, enc + self.public_key(sk))


PrivT = TypeVar("PrivT", x25519.X25519PrivateKey, x448.X448PrivateKey)


class _MontgomeryKem(DHKem, Generic[PrivT]):
    """X25519 / X448: private keys are raw bytes, DeriveKeyPair is a single labelled expand."""

    def __init__(self) -> None:
        self._keys: KeyCache[PrivT] = KeyCache(KEM_KEY_CACHE_SIZE)

    # The curve-specific parts ------------------------------------------------------------------------------
    @abstractmethod
    def _load(self, sk: bytes) -> PrivT: ...

    @abstractmethod
    def _generate(self) -> PrivT: ...

    @abstractmethod
    def _exchange(self, key: PrivT, pk: bytes) -> bytes: ...

    # ------------------------------------------------------------------------------------------------------
    def _check_len(self, value: bytes, n: int, what: str) -> None:
        if len(value) != n:
            raise CryptoError(f"{what} must be {n} bytes, got {len(value)}")

    def _private(self, sk: bytes) -> PrivT:
        self._check_len(sk, self.n_sk, "private key")
        return self._keys.get(sk, self._load)

    def forget_private_key(self, sk: bytes) -> None:
        self._keys.discard(sk)

    def _checked_exchange(self, key: PrivT, pk: bytes) -> bytes:
        self._check_len(pk, self.n_pk, "public key")
        try:
            return self._exchange(key, pk)
        except ValueError as exc:
            # An all-zero result (small-order point) must abort per RFC 9180 §7.1.4.
            raise CryptoError(f"DH failed: {exc}") from exc

    def dh(self, sk: bytes, pk: bytes) -> bytes:
        return self._checked_exchange(self._private(sk), pk)

    def _ephemeral_dh(self, pk: bytes) -> tuple[bytes, bytes]:
        key = self._generate()
        return self._checked_exchange(key, pk), key.public_key().public_bytes_raw()

    def public_key(self, sk: bytes) -> bytes:
        return self._private(sk).public_key().public_bytes_raw()

    def generate_key_pair(self) -> tuple[bytes, bytes]:
        # RFC 9180 §7.1.4: GenerateKeyPair is any uniform choice of Nsk bytes, as the backend's generate makes.
        key = self._generate()
        sk = key.private_bytes_raw()
        self._keys.put(sk, key)
        return sk, key.public_key().public_bytes_raw()

    def derive_private_key(self, dkp_prk: bytes) -> bytes:
        return labeled_expand(self.kdf, self.suite_id, dkp_prk, b"sk", b"", self.n_sk)


class X25519Kem(_MontgomeryKem[x25519.X25519PrivateKey]):
    """DHKEM(X25519, HKDF-SHA256)."""

    kem_id = 0x0020
    n_secret = 32
    n_enc = 32
    n_pk = 32
    n_sk = 32
    kdf = SHA256

    def _load(self, sk: bytes) -> x25519.X25519PrivateKey:
        return x25519.X25519PrivateKey.from_private_bytes(sk)

    def _generate(self) -> x25519.X25519PrivateKey:
        return x25519.X25519PrivateKey.generate()

    def _exchange(self, key: x25519.X25519PrivateKey, pk: bytes) -> bytes:
        return key.exchange(x25519.X25519PublicKey.from_public_bytes(pk))


class X448Kem(_MontgomeryKem[x448.X448PrivateKey]):
    """DHKEM(X448, HKDF-SHA512)."""

    kem_id = 0x0021
    n_secret = 64
    n_enc = 56
    n_pk = 56
    n_sk = 56
    kdf = SHA512

    def _load(self, sk: bytes) -> x448.X448PrivateKey:
        return x448.X448PrivateKey.from_private_bytes(sk)

    def _generate(self) -> x448.X448PrivateKey:
        return x448.X448PrivateKey.generate()

    def _exchange(self, key: x448.X448PrivateKey, pk: bytes) -> bytes:
        return key.exchange(x448.X448PublicKey.from_public_bytes(pk))


class NistKem(DHKem):
    """DHKEM over P-256 / P-384 / P-521 with rejection sampling in DeriveKeyPair (RFC 9180 §7.1.3)."""

    def __init__(self, kem_id: int, curve: ec.EllipticCurve, order: int, kdf: Kdf, n_secret: int, bitmask: int) -> None:
        self.kem_id = kem_id
        self.curve = curve
        self.order = order
        self.kdf = kdf
        self.n_secret = n_secret
        self.n_sk = (curve.key_size + 7) // 8
        self.n_pk = 1 + 2 * self.n_sk
        self.n_enc = self.n_pk
        self.bitmask = bitmask
        self._keys: KeyCache[ec.EllipticCurvePrivateKey] = KeyCache(KEM_KEY_CACHE_SIZE)

    def private_key_object(self, sk: bytes) -> ec.EllipticCurvePrivateKey:
        """The loaded (cached) key object of private key ``sk``."""
        return self._keys.get(sk, self._load)

    def forget_private_key(self, sk: bytes) -> None:
        """Drop the cached key object of ``sk``."""
        self._keys.discard(sk)

    def _load(self, sk: bytes) -> ec.EllipticCurvePrivateKey:
        if len(sk) != self.n_sk:
            raise CryptoError(
                f"private key must be {self.n_sk} bytes (the scalar left-padded to Nsk, RFC 9180 §7.1.2), got {len(sk)}"
            )
        scalar = int.from_bytes(sk, "big")
        if not 0 < scalar < self.order:
            raise CryptoError("private scalar out of range")
        return ec.derive_private_key(scalar, self.curve)

    def public_key_object(self, pk: bytes) -> ec.EllipticCurvePublicKey:
        """The key object of an uncompressed public key; CryptoError if invalid."""
        if len(pk) != self.n_pk or pk[0] != 0x04:
            raise CryptoError(f"public key must be a {self.n_pk}-byte uncompressed point")
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(self.curve, pk)
        except ValueError as exc:
            raise CryptoError(f"invalid public key: {exc}") from exc

    def dh(self, sk: bytes, pk: bytes) -> bytes:
        return self.private_key_object(sk).exchange(ec.ECDH(), self.public_key_object(pk))

    def _ephemeral_dh(self, pk: bytes) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(self.curve)
        pk_e = key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return key.exchange(ec.ECDH(), self.public_key_object(pk)), pk_e

    def public_key(self, sk: bytes) -> bytes:
        return self.private_key_object(sk).public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def derive_private_key(self, dkp_prk: bytes) -> bytes:
        for counter in range(256):
            candidate = bytearray(
                labeled_expand(self.kdf, self.suite_id, dkp_prk, b"candidate", bytes([counter]), self.n_sk)
            )
            candidate[0] &= self.bitmask
            scalar = int.from_bytes(candidate, "big")
            if 0 < scalar < self.order:
                return bytes(candidate)
        raise CryptoError("DeriveKeyPair: no valid candidate in 256 attempts")


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P384_ORDER = int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16)
P521_ORDER = int(
    "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5"
    "C9B8899C47AEBB6FB71E91386409",
    16,
)


def _build_kems() -> dict[int, Kem]:
    kems: list[Kem] = [
        NistKem(0x0010, ec.SECP256R1(), P256_ORDER, SHA256, 32, 0xFF),
        NistKem(0x0011, ec.SECP384R1(), P384_ORDER, SHA384, 48, 0xFF),
        NistKem(0x0012, ec.SECP521R1(), P521_ORDER, SHA512, 64, 0x01),
        X25519Kem(),
        X448Kem(),
    ]
    return {k.kem_id: k for k in kems}


_KEMS = _build_kems()


def forget_private_keys(keys: Iterable[bytes]) -> None:
    """Drop private keys the caller has deleted from every DHKEM's cache of loaded keys."""
    keys = list(keys)
    for kem in _KEMS.values():
        if isinstance(kem, _MontgomeryKem | NistKem):
            for sk in keys:
                kem.forget_private_key(sk)


def get_kem(kem_id: int) -> Kem:
    """Return the DHKEM for an RFC 9180 KEM identifier."""
    try:
        return _KEMS[kem_id]
    except KeyError:
        raise UnsupportedError(f"KEM 0x{kem_id:04x} is not supported") from None


__all__ = ["DHKem", "Kem", "NistKem", "X448Kem", "X25519Kem", "forget_private_keys", "get_kem", "labeled_expand"]
