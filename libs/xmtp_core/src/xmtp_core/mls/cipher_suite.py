"""MLS cipher suites (RFC 9420 §17.1, suites 1–7) and the labelled crypto operations built on them (§5).

A ``CipherSuite`` joins a hash/KDF, an AEAD, an HPKE KEM and a signature scheme, and offers RefHash,
ExpandWithLabel, DeriveSecret, DeriveTreeSecret, SignWithLabel/VerifyWithLabel, EncryptWithLabel/
DecryptWithLabel and raw HPKE. All keys are bytes (see ``kem`` and ``signature`` for the formats).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xmtp_core.mls.codec import Writer, encode_vec
from xmtp_core.mls.errors import CryptoError, UnsupportedError
from xmtp_core.mls.hpke import AES128GCM, AES256GCM, CHACHA20POLY1305, Aead, Context, HpkeSuite
from xmtp_core.mls.kdf import SHA256, SHA384, SHA512, Kdf
from xmtp_core.mls.kem import Kem, get_kem
from xmtp_core.mls.signature import (
    ECDSA_P256_SHA256,
    ECDSA_P384_SHA384,
    ECDSA_P521_SHA512,
    ED448,
    ED25519,
    SignatureScheme,
)

MLS_LABEL_PREFIX = b"MLS 1.0 "
_KDF_LABEL_HEAD_CACHE_SIZE = 256  # the protocol uses a few dozen (length, label) pairs
_KDF_LABEL_HEADS: dict[tuple[int, bytes], bytes] = {}


def _kdf_label_head(length: int, label: bytes) -> bytes:
    """The KDFLabel bytes before the context (length and full label), remembered per (length, label)."""
    head = Writer().u16(length).vec(MLS_LABEL_PREFIX + label).bytes()
    if len(_KDF_LABEL_HEADS) >= _KDF_LABEL_HEAD_CACHE_SIZE:
        _KDF_LABEL_HEADS.clear()  # only reachable with caller-chosen labels (exporters); stays bounded
    _KDF_LABEL_HEADS[(length, label)] = head
    return head


@dataclass(frozen=True)
class CipherSuite:
    """One MLS cipher suite and its operations."""

    suite_id: int
    name: str
    kdf: Kdf
    aead: Aead
    kem: Kem
    signature: SignatureScheme
    hpke: HpkeSuite = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hpke", HpkeSuite(self.kem, self.kdf, self.aead))

    @property
    def hash_len(self) -> int:
        """Nh, the hash output length in bytes."""
        return self.kdf.hash_len

    @property
    def aead_key_len(self) -> int:
        """Nk, the AEAD key length in bytes."""
        return self.aead.n_k

    @property
    def aead_nonce_len(self) -> int:
        """Nn, the AEAD nonce length in bytes."""
        return self.aead.n_n

    # Hash and KDF ----------------------------------------------------------------------------------------
    def hash(self, data: bytes) -> bytes:
        """The suite's hash of ``data``."""
        return self.kdf.hash(data)

    def mac(self, key: bytes, data: bytes) -> bytes:
        """HMAC with the suite's hash."""
        return self.kdf.mac(key, data)

    def kdf_extract(self, salt: bytes, ikm: bytes) -> bytes:
        """HKDF-Extract (RFC 5869)."""
        return self.kdf.extract(salt, ikm)

    def kdf_expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        """HKDF-Expand (RFC 5869)."""
        return self.kdf.expand(prk, info, length)

    def expand_with_label(self, secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
        """RFC 9420 §8 ExpandWithLabel: KDFLabel {uint16 length; label<V> = "MLS 1.0 " + label; context<V>}."""
        head = _KDF_LABEL_HEADS.get((length, label))
        if head is None:
            head = _kdf_label_head(length, label)
        return self.kdf.expand(secret, head + encode_vec(context), length)

    def derive_secret(self, secret: bytes, label: bytes) -> bytes:
        """DeriveSecret(secret, label) (RFC 9420 §8)."""
        return self.expand_with_label(secret, label, b"", self.hash_len)

    def derive_tree_secret(self, secret: bytes, label: bytes, generation: int, length: int) -> bytes:
        """DeriveTreeSecret(secret, label, generation, length) (RFC 9420 §9)."""
        return self.expand_with_label(secret, label, generation.to_bytes(4, "big"), length)

    def ref_hash(self, label: bytes, value: bytes) -> bytes:
        """RFC 9420 §5.2 RefHash over RefHashInput {label<V>; value<V>}."""
        return self.hash(encode_vec(label) + encode_vec(value))

    # Signatures ------------------------------------------------------------------------------------------
    def generate_signature_key_pair(self) -> tuple[bytes, bytes]:
        """A fresh (private, public) signature key pair."""
        return self.signature.generate_key_pair()

    def signature_public_key(self, sk: bytes) -> bytes:
        """The public key of signature private key ``sk``."""
        return self.signature.public_key(sk)

    def sign(self, sk: bytes, msg: bytes) -> bytes:
        """A raw signature over ``msg`` (no label)."""
        return self.signature.sign(sk, msg)

    def verify(self, pk: bytes, msg: bytes, sig: bytes) -> bool:
        """Whether ``sig`` is a raw signature over ``msg`` by ``pk``."""
        return self.signature.verify(pk, msg, sig)

    @staticmethod
    def _sign_content(label: bytes, content: bytes) -> bytes:
        return encode_vec(MLS_LABEL_PREFIX + label) + encode_vec(content)

    def sign_with_label(self, sk: bytes, label: bytes, content: bytes) -> bytes:
        """RFC 9420 §5.1.2 SignWithLabel."""
        return self.sign(sk, self._sign_content(label, content))

    def verify_with_label(self, pk: bytes, label: bytes, content: bytes, sig: bytes) -> bool:
        """VerifyWithLabel (RFC 9420 §5.1.2)."""
        return self.verify(pk, self._sign_content(label, content), sig)

    # AEAD ------------------------------------------------------------------------------------------------
    def aead_encrypt(self, key: bytes, nonce: bytes, aad: bytes, pt: bytes) -> bytes:
        """The suite's AEAD seal."""
        return self.aead.seal(key, nonce, aad, pt)

    def aead_decrypt(self, key: bytes, nonce: bytes, aad: bytes, ct: bytes) -> bytes:
        """The suite's AEAD open; CryptoError if the ciphertext does not authenticate."""
        return self.aead.open(key, nonce, aad, ct)

    # HPKE ------------------------------------------------------------------------------------------------
    def derive_key_pair(self, ikm: bytes) -> tuple[bytes, bytes]:
        """HPKE DeriveKeyPair for the suite's KEM, returning (private, public)."""
        return self.kem.derive_key_pair(ikm)

    def generate_hpke_key_pair(self) -> tuple[bytes, bytes]:
        """A fresh (private, public) HPKE key pair."""
        return self.kem.generate_key_pair()

    def hpke_seal(self, pk: bytes, info: bytes, aad: bytes, pt: bytes) -> tuple[bytes, bytes]:
        """Single-shot HPKE seal to ``pk``: (enc, ciphertext)."""
        return self.hpke.seal(pk, info, aad, pt)

    def hpke_open(self, sk: bytes, enc: bytes, info: bytes, aad: bytes, ct: bytes) -> bytes:
        """Single-shot HPKE open with ``sk``."""
        return self.hpke.open(sk, enc, info, aad, ct)

    def hpke_sender_context(self, pk: bytes, info: bytes) -> tuple[bytes, Context]:
        """An HPKE sender context to ``pk``: (enc, context)."""
        return self.hpke.setup_base_s(pk, info)

    def hpke_receiver_context(self, sk: bytes, enc: bytes, info: bytes) -> Context:
        """The HPKE receiver context for ``enc`` and ``sk``."""
        return self.hpke.setup_base_r(enc, sk, info)

    def hpke_export(self, sk: bytes, enc: bytes, info: bytes, exporter_context: bytes, length: int) -> bytes:
        """Receiver-side single-shot export (RFC 9180 §6.2)."""
        return self.hpke.receive_export(enc, sk, info, exporter_context, length)

    @staticmethod
    def _encrypt_context(label: bytes, context: bytes) -> bytes:
        return encode_vec(MLS_LABEL_PREFIX + label) + encode_vec(context)

    def encrypt_with_label(self, pk: bytes, label: bytes, context: bytes, pt: bytes) -> tuple[bytes, bytes]:
        """RFC 9420 §5.1.3 EncryptWithLabel; returns (kem_output, ciphertext)."""
        return self.hpke.seal(pk, self._encrypt_context(label, context), b"", pt)

    def decrypt_with_label(self, sk: bytes, label: bytes, context: bytes, kem_output: bytes, ct: bytes) -> bytes:
        """DecryptWithLabel (RFC 9420 §5.1.3)."""
        try:
            return self.hpke.open(sk, kem_output, self._encrypt_context(label, context), b"", ct)
        except ValueError as exc:  # backend rejects a malformed key before any AEAD check
            raise CryptoError(f"DecryptWithLabel failed: {exc}") from exc


def _suite(suite_id: int, name: str, kdf: Kdf, aead: Aead, kem_id: int, sig: SignatureScheme) -> CipherSuite:
    return CipherSuite(suite_id, name, kdf, aead, get_kem(kem_id), sig)


_SUITES: dict[int, CipherSuite] = {
    s.suite_id: s
    for s in (
        _suite(1, "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519", SHA256, AES128GCM, 0x0020, ED25519),
        _suite(2, "MLS_128_DHKEMP256_AES128GCM_SHA256_P256", SHA256, AES128GCM, 0x0010, ECDSA_P256_SHA256),
        _suite(3, "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519", SHA256, CHACHA20POLY1305, 0x0020, ED25519),
        _suite(4, "MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448", SHA512, AES256GCM, 0x0021, ED448),
        _suite(5, "MLS_256_DHKEMP521_AES256GCM_SHA512_P521", SHA512, AES256GCM, 0x0012, ECDSA_P521_SHA512),
        _suite(6, "MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448", SHA512, CHACHA20POLY1305, 0x0021, ED448),
        _suite(7, "MLS_256_DHKEMP384_AES256GCM_SHA384_P384", SHA384, AES256GCM, 0x0011, ECDSA_P384_SHA384),
    )
}


def get_cipher_suite(suite_id: int) -> CipherSuite:
    """Return MLS cipher suite 1–7; anything else raises UnsupportedError."""
    try:
        return _SUITES[suite_id]
    except KeyError:
        raise UnsupportedError(f"MLS cipher suite {suite_id} is not supported") from None


def supported_cipher_suites() -> list[int]:
    """The ids of every cipher suite implemented here (1 to 7)."""
    return sorted(_SUITES)
