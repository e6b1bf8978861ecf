"""Exception hierarchy for the MLS (RFC 9420) implementation in ``xmtp_core.mls``.

Every error raised for bad input or failed checks derives from :class:`MLSError`, so callers at the edge can
catch one type; the subclasses say what went wrong.
"""

from __future__ import annotations


class MLSError(Exception):
    """Base class for every MLS failure."""


class DecodeError(MLSError):
    """Malformed, truncated or over-long wire bytes (trailing data, bad varint, bad optional flag)."""


class CryptoError(MLSError):
    """An AEAD or HPKE operation failed (wrong key, tampered ciphertext, invalid public key)."""


class SignatureError(MLSError):
    """A signature did not verify or could not be produced."""


class ValidationError(MLSError):
    """An RFC 9420 check failed; the message names the check and the RFC section."""


class LimitError(ValidationError):
    """Input larger than a limit the caller set (members, proposals), refused before the costly checks."""


class LifetimeError(ValidationError):
    """A KeyPackage or leaf node whose lifetime does not cover the time the caller gave (RFC 9420 §7.2, §7.3)."""


class EpochError(MLSError):
    """A message or operation refers to the wrong epoch."""


class GenerationError(MLSError):
    """Secret tree: generation outside the window, already used (replay) or already deleted."""


class UnsupportedError(MLSError):
    """An algorithm, cipher suite or feature that this implementation does not provide."""
