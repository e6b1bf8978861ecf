"""Hash, HMAC and HKDF (RFC 5869) primitives over ``cryptography``, shared by HPKE, KEMs and MLS.

``Kdf`` bundles a hash function with its HKDF operations; one instance per hash is enough.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, hmac


class Kdf:
    """HKDF with a fixed hash; ``kdf_id`` is the RFC 9180 KDF identifier."""

    def __init__(self, algorithm: hashes.HashAlgorithm, kdf_id: int) -> None:
        self.algorithm = algorithm
        self.kdf_id = kdf_id
        self.hash_len = algorithm.digest_size

    def hash(self, data: bytes) -> bytes:
        """The hash of ``data``."""
        h = hashes.Hash(self.algorithm)
        h.update(data)
        return h.finalize()

    def mac(self, key: bytes, data: bytes) -> bytes:
        """HMAC of ``data`` under ``key``."""
        h = hmac.HMAC(key, self.algorithm)
        h.update(data)
        return h.finalize()

    def extract(self, salt: bytes, ikm: bytes) -> bytes:
        # RFC 5869 §2.2: an empty salt means HashLen zero bytes; HMAC pads either way, so the result is equal.
        """HKDF-Extract."""
        return self.mac(salt if salt else bytes(self.hash_len), ikm)

    def expand(self, prk: bytes, info: bytes, length: int) -> bytes:
        """HKDF-Expand to ``length`` bytes."""
        if length < 0 or length > 255 * self.hash_len:
            raise ValueError(f"HKDF-Expand length {length} out of range")
        if length <= self.hash_len:  # one block, T(1) = HMAC(PRK, info || 0x01): the usual MLS case
            return self.mac(prk, info + b"\x01")[:length]
        out = bytearray()
        block = b""
        counter = 1
        while len(out) < length:
            block = self.mac(prk, block + info + bytes([counter]))
            out += block
            counter += 1
        return bytes(out[:length])


SHA256 = Kdf(hashes.SHA256(), 0x0001)
SHA384 = Kdf(hashes.SHA384(), 0x0002)
SHA512 = Kdf(hashes.SHA512(), 0x0003)
