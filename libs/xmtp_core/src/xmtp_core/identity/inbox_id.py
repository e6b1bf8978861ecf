"""Inbox IDs: derivation (lowercase hex SHA-256 of the owner identifier's text followed by the decimal nonce)
and the one format check every receiver of an attacker-chosen inbox id uses (`require_inbox_id`).

Two nonce defaults exist in the wild: the node bindings (`@xmtp/node-sdk`, `createClient`, `generateInboxId`)
use 1 when no nonce is given; the Rust core and the legacy-key path use 0. Callers pick explicitly.
"""

from __future__ import annotations

import hashlib
import re
from typing import TypeGuard

from xmtp_core.identity.errors import AssociationError, InvalidIdentifierError, Rule
from xmtp_core.identity.identifiers import EthereumAddress, RootIdentifier
from xmtp_core.untrusted import FIELD_LIMIT, clean

NODE_SDK_DEFAULT_NONCE = 1
"""The nonce `@xmtp/node-sdk` (node bindings 1.9/1.10) uses when none is given."""

RUST_CORE_DEFAULT_NONCE = 0
"""The nonce libxmtp's Rust core and legacy (V2) keys use."""

_U64_MAX = 2**64 - 1

INBOX_ID_LENGTH = 64
"""Characters of an inbox id: a SHA-256 digest in lowercase hex."""

_INBOX_ID = re.compile(r"[0-9a-f]{64}")


class InvalidInboxIdError(InvalidIdentifierError):
    """A string that claims to be an inbox id is not 64 lowercase hex characters."""


def is_inbox_id(value: object) -> TypeGuard[str]:
    """Whether `value` is a well-formed inbox id: exactly 64 lowercase hex characters (what `inbox_id` makes)."""
    # The length test first keeps the work constant however long an attacker's string is.
    return isinstance(value, str) and len(value) == INBOX_ID_LENGTH and _INBOX_ID.fullmatch(value) is not None


def require_inbox_id(value: object, what: str = "inbox id") -> str:
    """`value` if it is a well-formed inbox id, else `InvalidInboxIdError` (with the value cleaned and cut)."""
    if not is_inbox_id(value):
        raise InvalidInboxIdError(f"{what} {clean(value, FIELD_LIMIT)!r} is not 64 lowercase hex characters")
    return value


def inbox_id(identifier: RootIdentifier, nonce: int) -> str:
    """The inbox id owned by `identifier` with `nonce` (a u64).

    Ethereum addresses must be in the 42-char `0x` form, otherwise libxmtp refuses with "Invalid account
    address" (we raise `AssociationError(INVALID_ACCOUNT_ADDRESS)`). The address is hashed exactly as given,
    so canonical identifiers must be lower-case (see `identifiers.ethereum_address`).
    """
    if not 0 <= nonce <= _U64_MAX:
        raise ValueError(f"nonce must be a u64, got {nonce}")
    if isinstance(identifier, EthereumAddress) and not identifier.is_well_formed():
        raise AssociationError(Rule.INVALID_ACCOUNT_ADDRESS, f"{identifier.address!r} is not 0x + 40 hex digits")
    return hashlib.sha256(f"{identifier.text()}{nonce}".encode()).hexdigest()
