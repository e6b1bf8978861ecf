"""X-Wing hybrid KEM (draft-connolly-cfrg-xwing-kem-06): ML-KEM-768 + X25519, usable as an HPKE KEM.

The private key is a 32-byte seed; ``SHAKE256(seed, 96)`` gives the ML-KEM-768 key-generation seed ``d‖z``
(64 bytes) and the X25519 private key (32 bytes). Public key = ``pk_M (1184) ‖ pk_X (32)``, ciphertext =
``ct_M (1088) ‖ ct_X (32)``, shared secret = ``SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ XWingLabel)``.
In HPKE the KEM's shared secret is used directly (no DHKEM ExtractAndExpand). XMTP welcomes use kem_id 0x004D
(libxmtp 1.9/1.10); the IANA code point is 0x647A. ML-KEM comes from ``cryptography`` (randomised encapsulation
only, so :meth:`XWingKem.encap_from_parts` exists for known-answer tests).
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from xmtp_core.mls.errors import CryptoError
from xmtp_core.mls.hpke import CHACHA20POLY1305, HpkeSuite
from xmtp_core.mls.kdf import SHA256

XWING_LABEL = b"\\.//^\\"
KEM_ID_XWING_DRAFT06 = 0x004D
KEM_ID_XWING_IANA = 0x647A

MLKEM768_PK_LEN = 1184
MLKEM768_CT_LEN = 1088
X25519_LEN = 32


def _shake256(data: bytes, length: int) -> bytes:
    h = hashes.Hash(hashes.SHAKE256(digest_size=length))
    h.update(data)
    return h.finalize()


def _sha3_256(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA3_256())
    h.update(data)
    return h.finalize()


def combiner(ss_m: bytes, ss_x: bytes, ct_x: bytes, pk_x: bytes) -> bytes:
    """The X-Wing combiner; the label goes last (draft-06 and the IANA construction)."""
    return _sha3_256(ss_m + ss_x + ct_x + pk_x + XWING_LABEL)


def _x25519(sk: bytes, pk: bytes) -> bytes:
    try:
        return x25519.X25519PrivateKey.from_private_bytes(sk).exchange(x25519.X25519PublicKey.from_public_bytes(pk))
    except ValueError as exc:
        raise CryptoError(f"X-Wing X25519 failed: {exc}") from exc


def _x25519_base(sk: bytes) -> bytes:
    return x25519.X25519PrivateKey.from_private_bytes(sk).public_key().public_bytes_raw()


class XWingKem:
    """X-Wing as a pluggable KEM (same shape as ``kem.Kem``)."""

    n_secret = 32
    n_enc = MLKEM768_CT_LEN + X25519_LEN
    n_pk = MLKEM768_PK_LEN + X25519_LEN
    n_sk = 32

    def __init__(self, kem_id: int = KEM_ID_XWING_DRAFT06) -> None:
        self.kem_id = kem_id

    @staticmethod
    def _expand(sk: bytes) -> tuple[mlkem.MLKEM768PrivateKey, bytes]:
        if len(sk) != 32:
            raise CryptoError(f"X-Wing private key must be a 32-byte seed, got {len(sk)} bytes")
        expanded = _shake256(sk, 96)
        return mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]), expanded[64:96]

    def public_key(self, sk: bytes) -> bytes:
        """The public key of a 32-byte X-Wing seed."""
        sk_m, sk_x = self._expand(sk)
        return sk_m.public_key().public_bytes_raw() + _x25519_base(sk_x)

    def key_pair_from_seed(self, seed: bytes) -> tuple[bytes, bytes]:
        """GenerateKeyPairDerand: the seed is the private key."""
        return seed, self.public_key(seed)

    def generate_key_pair(self) -> tuple[bytes, bytes]:
        """A fresh (seed, public key) pair."""
        return self.key_pair_from_seed(os.urandom(32))

    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """HPKE DeriveKeyPair (draft-06 §5.4): the seed is SHAKE256(ikm, 32)."""
        return self.key_pair_from_seed(_shake256(ikm, 32))

    def _split_pk(self, pk: bytes) -> tuple[bytes, bytes]:
        if len(pk) != self.n_pk:
            raise CryptoError(f"X-Wing public key must be {self.n_pk} bytes, got {len(pk)}")
        return pk[:MLKEM768_PK_LEN], pk[MLKEM768_PK_LEN:]

    def encap(self, pk: bytes) -> tuple[bytes, bytes]:
        """Returns (shared_secret, ciphertext)."""
        pk_m, _ = self._split_pk(pk)
        try:
            ss_m, ct_m = mlkem.MLKEM768PublicKey.from_public_bytes(pk_m).encapsulate()
        except ValueError as exc:
            raise CryptoError(f"invalid ML-KEM-768 public key: {exc}") from exc
        return self.encap_from_parts(pk, ss_m, ct_m, os.urandom(32))

    def encap_from_parts(self, pk: bytes, ss_m: bytes, ct_m: bytes, ek_x: bytes) -> tuple[bytes, bytes]:
        """Finish encapsulation from a given ML-KEM result and X25519 ephemeral secret (deterministic)."""
        _, pk_x = self._split_pk(pk)
        ct_x = _x25519_base(ek_x)
        ss_x = _x25519(ek_x, pk_x)
        return combiner(ss_m, ss_x, ct_x, pk_x), ct_m + ct_x

    def decap(self, enc: bytes, sk: bytes) -> bytes:
        """The shared secret ``enc`` carries for seed ``sk``."""
        if len(enc) != self.n_enc:
            raise CryptoError(f"X-Wing ciphertext must be {self.n_enc} bytes, got {len(enc)}")
        sk_m, sk_x = self._expand(sk)
        ct_m, ct_x = enc[:MLKEM768_CT_LEN], enc[MLKEM768_CT_LEN:]
        try:
            ss_m = sk_m.decapsulate(ct_m)
        except ValueError as exc:
            raise CryptoError(f"ML-KEM-768 decapsulation failed: {exc}") from exc
        pk_x = _x25519_base(sk_x)
        return combiner(ss_m, _x25519(sk_x, ct_x), ct_x, pk_x)


def xwing_hpke_suite(kem_id: int = KEM_ID_XWING_DRAFT06) -> HpkeSuite:
    """HPKE with X-Wing, HKDF-SHA256 and ChaCha20-Poly1305, as XMTP's welcome wrapper uses it."""
    return HpkeSuite(XWingKem(kem_id), SHA256, CHACHA20POLY1305)
