"""Signature schemes used by MLS cipher suites: Ed25519, Ed448 and ECDSA over P-256/P-384/P-521.

Keys are bytes as the RFC 9420 test vectors serialise them: raw keys for EdDSA; for ECDSA the private key is the
big-endian scalar and the public key the uncompressed SEC1 point, with DER-encoded signatures.

Interop note: the published MLS test vectors (crypto-basics, suites 5 and 7) carry P-521/P-384 signatures over a
SHA-256 digest instead of SHA-512/SHA-384. We always sign with the RFC hash and, on verify, also accept SHA-256
for those curves; both need the private key, so this allows no forgery.

Loaded private keys are kept in a small per-scheme :class:`KeyCache`: a member signs every message with the same
key, and loading it costs as much as the signature itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from xmtp_core.mls._key_cache import KeyCache
from xmtp_core.mls.errors import SignatureError

SIGNING_KEY_CACHE_SIZE = 16  # a process usually signs with one key per installation


class SignatureScheme(ABC):
    """Base class; ``scheme_id`` is the TLS SignatureScheme value."""

    scheme_id: int
    name: str

    @abstractmethod
    def generate_key_pair(self) -> tuple[bytes, bytes]:
        """A fresh (private, public) key pair."""

    @abstractmethod
    def public_key(self, sk: bytes) -> bytes:
        """The public key of private key ``sk``."""

    @abstractmethod
    def sign(self, sk: bytes, msg: bytes) -> bytes:
        """A signature over ``msg``."""

    @abstractmethod
    def verify(self, pk: bytes, msg: bytes, sig: bytes) -> bool:
        """Whether ``sig`` is a valid signature over ``msg`` by ``pk``."""


_EdPrivate = ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
_EdPrivateClass = type[ed25519.Ed25519PrivateKey] | type[ed448.Ed448PrivateKey]
_EdPublicClass = type[ed25519.Ed25519PublicKey] | type[ed448.Ed448PublicKey]


class EdDsaScheme(SignatureScheme):
    """Ed25519 or Ed448 (RFC 8032, pure mode) with raw keys."""

    def __init__(self, scheme_id: int, name: str, private_cls: _EdPrivateClass, public_cls: _EdPublicClass) -> None:
        self.scheme_id = scheme_id
        self.name = name
        self._private_cls = private_cls
        self._public_cls = public_cls
        self._keys: KeyCache[_EdPrivate] = KeyCache(SIGNING_KEY_CACHE_SIZE)

    def _sk(self, sk: bytes) -> _EdPrivate:
        return self._keys.get(sk, self._load)

    def _load(self, sk: bytes) -> _EdPrivate:
        try:
            return self._private_cls.from_private_bytes(sk)
        except ValueError as exc:
            raise SignatureError(f"invalid {self.name} private key: {exc}") from exc

    def generate_key_pair(self) -> tuple[bytes, bytes]:
        key = self._private_cls.generate()
        raw = key.private_bytes_raw()
        self._keys.put(raw, key)
        return raw, key.public_key().public_bytes_raw()

    def public_key(self, sk: bytes) -> bytes:
        return self._sk(sk).public_key().public_bytes_raw()

    def sign(self, sk: bytes, msg: bytes) -> bytes:
        return self._sk(sk).sign(msg)

    def verify(self, pk: bytes, msg: bytes, sig: bytes) -> bool:
        try:
            self._public_cls.from_public_bytes(pk).verify(sig, msg)
        except (InvalidSignature, ValueError):
            return False
        return True


class EcdsaScheme(SignatureScheme):
    """ECDSA over a NIST curve, signatures DER-encoded as RFC 9420 uses them."""

    def __init__(
        self,
        scheme_id: int,
        name: str,
        curve: ec.EllipticCurve,
        hash_alg: hashes.HashAlgorithm,
        also_verify: tuple[hashes.HashAlgorithm, ...] = (),
    ) -> None:
        self.also_verify = also_verify
        self.scheme_id = scheme_id
        self.name = name
        self.curve = curve
        self.hash_alg = hash_alg
        self.n_sk = (curve.key_size + 7) // 8
        self._keys: KeyCache[ec.EllipticCurvePrivateKey] = KeyCache(SIGNING_KEY_CACHE_SIZE)

    def _sk(self, sk: bytes) -> ec.EllipticCurvePrivateKey:
        return self._keys.get(sk, self._load)

    def _load(self, sk: bytes) -> ec.EllipticCurvePrivateKey:
        if not 0 < len(sk) <= self.n_sk:
            raise SignatureError(f"ECDSA private key must be at most {self.n_sk} bytes")
        try:
            return ec.derive_private_key(int.from_bytes(sk, "big"), self.curve)
        except ValueError as exc:
            raise SignatureError(f"invalid ECDSA private key: {exc}") from exc

    def generate_key_pair(self) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(self.curve)
        sk = key.private_numbers().private_value.to_bytes(self.n_sk, "big")
        return sk, self.public_key(sk)

    def public_key(self, sk: bytes) -> bytes:
        return self._sk(sk).public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)

    def sign(self, sk: bytes, msg: bytes) -> bytes:
        return self._sk(sk).sign(msg, ec.ECDSA(self.hash_alg))

    def verify(self, pk: bytes, msg: bytes, sig: bytes) -> bool:
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(self.curve, pk)
        except ValueError:
            return False
        for hash_alg in (self.hash_alg, *self.also_verify):
            try:
                key.verify(sig, msg, ec.ECDSA(hash_alg))
            except (InvalidSignature, ValueError):
                continue
            return True
        return False


ED25519 = EdDsaScheme(0x0807, "ed25519", ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)
ED448 = EdDsaScheme(0x0808, "ed448", ed448.Ed448PrivateKey, ed448.Ed448PublicKey)
ECDSA_P256_SHA256 = EcdsaScheme(0x0403, "ecdsa_secp256r1_sha256", ec.SECP256R1(), hashes.SHA256())
ECDSA_P384_SHA384 = EcdsaScheme(0x0503, "ecdsa_secp384r1_sha384", ec.SECP384R1(), hashes.SHA384(), (hashes.SHA256(),))
ECDSA_P521_SHA512 = EcdsaScheme(0x0603, "ecdsa_secp521r1_sha512", ec.SECP521R1(), hashes.SHA512(), (hashes.SHA256(),))
