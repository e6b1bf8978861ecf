"""HPKE (RFC 9180) base mode: key schedule, single-shot seal/open, multi-message contexts and export.

The KEM is pluggable (anything with the ``kem.Kem`` shape, including X-Wing); AEADs are AES-128-GCM,
AES-256-GCM and ChaCha20-Poly1305 from ``cryptography``. Only mode_base (0x00) is implemented, which is all
MLS and the XMTP welcome wrapper use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from xmtp_core.mls.errors import CryptoError
from xmtp_core.mls.kdf import Kdf
from xmtp_core.mls.kem import Kem, labeled_expand

MODE_BASE = 0x00
HPKE_VERSION = b"HPKE-v1"
INFO_HASH_CACHE_SIZE = 64  # an UpdatePath encrypts to many keys under one info


@dataclass(frozen=True)
class Aead:
    """An RFC 9180 AEAD: identifier, key length Nk, nonce length Nn."""

    aead_id: int
    n_k: int
    n_n: int
    n_t: int = 16

    def _cipher(self, key: bytes) -> AESGCM | ChaCha20Poly1305:
        if len(key) != self.n_k:
            raise CryptoError(f"AEAD key must be {self.n_k} bytes, got {len(key)}")
        if self.aead_id == 0x0003:
            return ChaCha20Poly1305(key)
        return AESGCM(key)

    def _check_nonce(self, nonce: bytes) -> None:
        if len(nonce) != self.n_n:
            raise CryptoError(f"AEAD nonce must be {self.n_n} bytes, got {len(nonce)}")

    def seal(self, key: bytes, nonce: bytes, aad: bytes, pt: bytes) -> bytes:
        """Encrypt and authenticate ``pt``."""
        self._check_nonce(nonce)
        return self._cipher(key).encrypt(nonce, pt, aad)

    def open(self, key: bytes, nonce: bytes, aad: bytes, ct: bytes) -> bytes:
        """Decrypt ``ct``; CryptoError if it does not authenticate."""
        self._check_nonce(nonce)
        try:
            return self._cipher(key).decrypt(nonce, ct, aad)
        except InvalidTag:
            raise CryptoError("AEAD authentication failed") from None


AES128GCM = Aead(0x0001, 16, 12)
AES256GCM = Aead(0x0002, 32, 12)
CHACHA20POLY1305 = Aead(0x0003, 32, 12)


class Context:
    """An HPKE encryption context (RFC 9180 §5.2); each seal/open uses and advances the sequence number.

    The exporter secret is derived on first use: single-shot seal/open, the common case, never needs it.
    """

    def __init__(self, suite: HpkeSuite, key: bytes, base_nonce: bytes, secret: bytes, ks_context: bytes) -> None:
        self.suite = suite
        self.key = key
        self.base_nonce = base_nonce
        self.seq = 0
        self._secret = secret
        self._ks_context = ks_context
        self._exporter_secret: bytes | None = None

    @property
    def exporter_secret(self) -> bytes:
        """The context's exporter secret, derived on first use."""
        if self._exporter_secret is None:
            suite = self.suite
            self._exporter_secret = suite.labeled_expand(self._secret, b"exp", self._ks_context, suite.kdf.hash_len)
        return self._exporter_secret

    def _nonce(self) -> bytes:
        if self.seq == 0:  # single-shot seal/open: base_nonce XOR 0
            return self.base_nonce
        n_n = self.suite.aead.n_n
        if self.seq >= (1 << (8 * n_n)) - 1:
            raise CryptoError("HPKE message limit reached")
        return (int.from_bytes(self.base_nonce, "big") ^ self.seq).to_bytes(n_n, "big")

    def seal(self, aad: bytes, pt: bytes) -> bytes:
        """Encrypt the next message of this context."""
        ct = self.suite.aead.seal(self.key, self._nonce(), aad, pt)
        self.seq += 1
        return ct

    def open(self, aad: bytes, ct: bytes) -> bytes:
        """Decrypt the next message of this context."""
        pt = self.suite.aead.open(self.key, self._nonce(), aad, ct)
        self.seq += 1
        return pt

    def export(self, exporter_context: bytes, length: int) -> bytes:
        """Export a secret from this context (RFC 9180 §5.3)."""
        return self.suite.labeled_expand(self.exporter_secret, b"sec", exporter_context, length)


@dataclass(frozen=True)
class HpkeSuite:
    """An HPKE cipher suite: KEM, KDF and AEAD."""

    kem: Kem
    kdf: Kdf
    aead: Aead
    suite_id: bytes = field(init=False, repr=False, compare=False)
    _context_prefix: bytes = field(init=False, repr=False, compare=False)  # mode || psk_id_hash
    _labels: tuple[bytes, bytes, bytes] = field(init=False, repr=False, compare=False)  # secret, key, base_nonce
    _info_hashes: dict[bytes, bytes] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        suite_id = (
            b"HPKE"
            + self.kem.kem_id.to_bytes(2, "big")
            + self.kdf.kdf_id.to_bytes(2, "big")
            + self.aead.aead_id.to_bytes(2, "big")
        )
        object.__setattr__(self, "suite_id", suite_id)
        # mode_base has an empty psk_id, so its hash is a constant of the suite.
        psk_id_hash = self.labeled_extract(b"", b"psk_id_hash", b"")
        object.__setattr__(self, "_context_prefix", bytes([MODE_BASE]) + psk_id_hash)
        prefix = HPKE_VERSION + suite_id
        labels = (
            prefix + b"secret",
            self.aead.n_k.to_bytes(2, "big") + prefix + b"key",
            self.aead.n_n.to_bytes(2, "big") + prefix + b"base_nonce",
        )
        object.__setattr__(self, "_labels", labels)

    def _info_hash(self, info: bytes) -> bytes:
        cache = self._info_hashes
        info_hash = cache.get(info)
        if info_hash is None:
            info_hash = self.labeled_extract(b"", b"info_hash", info)
            if len(cache) >= INFO_HASH_CACHE_SIZE:
                cache.clear()
            cache[info] = info_hash
        return info_hash

    def labeled_extract(self, salt: bytes, label: bytes, ikm: bytes) -> bytes:
        """LabeledExtract (RFC 9180 §4)."""
        return self.kdf.extract(salt, HPKE_VERSION + self.suite_id + label + ikm)

    def labeled_expand(self, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
        """LabeledExpand (RFC 9180 §4)."""
        return labeled_expand(self.kdf, self.suite_id, prk, label, info, length)

    def key_schedule(self, shared_secret: bytes, info: bytes) -> Context:
        """RFC 9180 §5.1 KeySchedule for mode_base (empty psk and psk_id)."""
        key, base_nonce, secret, ks_context = self._schedule(shared_secret, info)
        return Context(self, key, base_nonce, secret, ks_context)

    def _schedule(self, shared_secret: bytes, info: bytes) -> tuple[bytes, bytes, bytes, bytes]:
        """(key, base_nonce, secret, key_schedule_context); the labelled inputs' constant parts are precomputed."""
        ks_context = self._context_prefix + self._info_hash(info)
        secret_label, key_label, nonce_label = self._labels
        kdf, aead = self.kdf, self.aead
        secret = kdf.extract(shared_secret, secret_label)  # LabeledExtract(shared_secret, "secret", psk="")
        key = kdf.expand(secret, key_label + ks_context, aead.n_k)
        base_nonce = kdf.expand(secret, nonce_label + ks_context, aead.n_n)
        return key, base_nonce, secret, ks_context

    def setup_base_s(self, pk_r: bytes, info: bytes) -> tuple[bytes, Context]:
        """SetupBaseS: (enc, sender context) to ``pk_r``."""
        shared, enc = self.kem.encap(pk_r)
        return enc, self.key_schedule(shared, info)

    def setup_base_r(self, enc: bytes, sk_r: bytes, info: bytes) -> Context:
        """SetupBaseR: the receiver context for ``enc``."""
        return self.key_schedule(self._decap(enc, sk_r), info)

    def _decap(self, enc: bytes, sk_r: bytes) -> bytes:
        try:
            return self.kem.decap(enc, sk_r)
        except ValueError as exc:  # a KEM that lets a backend ValueError escape still fails as CryptoError
            raise CryptoError(f"HPKE decapsulation failed: {exc}") from exc

    def seal(self, pk_r: bytes, info: bytes, aad: bytes, pt: bytes) -> tuple[bytes, bytes]:
        """Single-shot SealBase: the first message of a context uses base_nonce itself (RFC 9180 §6.1)."""
        shared, enc = self.kem.encap(pk_r)
        key, base_nonce, _, _ = self._schedule(shared, info)
        return enc, self.aead.seal(key, base_nonce, aad, pt)

    def open(self, sk_r: bytes, enc: bytes, info: bytes, aad: bytes, ct: bytes) -> bytes:
        """Single-shot base-mode open."""
        key, base_nonce, _, _ = self._schedule(self._decap(enc, sk_r), info)
        return self.aead.open(key, base_nonce, aad, ct)

    def receive_export(self, enc: bytes, sk_r: bytes, info: bytes, exporter_context: bytes, length: int) -> bytes:
        """A secret exported from the receiver context for ``enc``."""
        return self.setup_base_r(enc, sk_r, info).export(exporter_context, length)
