"""Exceptions raised by the state store, one per way a caller can misuse it or the data can be wrong."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for every error the store raises on purpose."""


class KeyConfigError(StoreError):
    """The database encryption key is missing or malformed (the message never contains key material)."""


class DecryptionError(StoreError):
    """A stored ciphertext cannot be opened: unknown key id, wrong key, tampering, or copied from another place."""


class NotFoundError(StoreError):
    """A row the caller referred to does not exist."""


class IllegalTransitionError(StoreError):
    """An intent was asked to move to a state its current state does not allow."""
