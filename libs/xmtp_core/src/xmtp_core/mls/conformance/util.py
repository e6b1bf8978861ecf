"""Helpers shared by the conformance handlers: hex decoding, HPKE private keys in the form the KEMs take, and
byte comparison with a readable failure."""

from __future__ import annotations

from xmtp_core.mls.cipher_suite import CipherSuite
from xmtp_core.mls.kem import NistKem


def h(value: str | None) -> bytes:
    """Decode a test-vector hex string (``None`` and "" give empty bytes)."""
    return bytes.fromhex(value) if value else b""


def hpke_private_key(suite: CipherSuite, value: str) -> bytes:
    """A vector's HPKE private key as RFC 9180 SerializePrivateKey gives it: exactly Nsk bytes.

    Some passive-client vectors (suite 5) write a P-521 scalar as a minimal big-endian integer, without its
    leading zero byte (65 bytes where Nsk is 66). For the NIST curves that is the same scalar, so it is padded
    back here, at the one place foreign-encoded keys come in; ``kem`` itself takes only the fixed width. Raw
    X25519/X448/X-Wing keys are never padded: every byte of them is significant.
    """
    raw = h(value)
    kem = suite.kem
    if isinstance(kem, NistKem) and len(raw) < kem.n_sk:
        return raw.rjust(kem.n_sk, b"\x00")
    return raw


class Mismatch(AssertionError):
    """A computed value differs from the test vector."""


def check(what: str, got: object, want: object) -> None:
    """AssertionError naming ``what`` unless ``got`` equals ``want``."""
    if got != want:
        raise Mismatch(f"{what}: got {_show(got)}, want {_show(want)}")


def _show(value: object) -> str:
    if isinstance(value, bytes):
        text = value.hex()
        return text if len(text) <= 80 else text[:77] + "..."
    return repr(value)
