"""Member identifiers of an XMTP inbox: Ethereum addresses, installation keys and passkeys.

Identifiers decoded from the wire keep their exact bytes/strings, because libxmtp compares and prints them
as they are (an upper-case address on the wire never matches a recovered, lower-case signer). Identifiers we
*create* go through `ethereum_address()`, which validates and lower-cases, so what we put on the wire is
always the canonical `0x` + 40 lower-case hex form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from xmtp_core.identity.errors import InvalidIdentifierError

_ADDRESS_BODY = re.compile(r"[0-9a-fA-F]{40}")


class MemberKind(StrEnum):
    """What kind of member an identifier names."""

    ETHEREUM = "ethereum"
    INSTALLATION = "installation"
    PASSKEY = "passkey"


@dataclass(frozen=True)
class EthereumAddress:
    """An Ethereum account (EOA or smart-contract wallet), as the string that appears on the wire."""

    address: str

    @property
    def kind(self) -> MemberKind:
        """Always `MemberKind.ETHEREUM`."""
        return MemberKind.ETHEREUM

    def text(self) -> str:
        """How the identifier is printed in signature text and hashed into an inbox id."""
        return self.address

    def is_well_formed(self) -> bool:
        """libxmtp's check before deriving an inbox id: 42 chars, `0x`, hex digits (either case)."""
        return (
            len(self.address) == 42
            and self.address.startswith("0x")
            and bool(_ADDRESS_BODY.fullmatch(self.address[2:]))
        )


@dataclass(frozen=True)
class InstallationKey:
    """An installation, named by its 32-byte Ed25519 public key."""

    public_key: bytes

    @property
    def kind(self) -> MemberKind:
        """Always `MemberKind.INSTALLATION`."""
        return MemberKind.INSTALLATION

    def text(self) -> str:
        """The key in lowercase hex, as signature texts write it."""
        return self.public_key.hex()


@dataclass(frozen=True)
class Passkey:
    """A P-256 passkey. Equality and hashing use the key only; the relying party is carried along (as libxmtp)."""

    key: bytes
    relying_party: str | None = field(default=None, compare=False)

    @property
    def kind(self) -> MemberKind:
        """Always `MemberKind.PASSKEY`."""
        return MemberKind.PASSKEY

    def text(self) -> str:
        """The public key in lowercase hex, as signature texts write it."""
        return self.key.hex()


MemberIdentifier = EthereumAddress | InstallationKey | Passkey
RootIdentifier = EthereumAddress | Passkey
"""Identifiers that can own an inbox (create it, be its recovery identifier)."""


def ethereum_address(value: str) -> EthereumAddress:
    """Validate an Ethereum address (40 hex digits, `0x` optional, any case) and return its canonical form."""
    body = value[2:] if value[:2] in ("0x", "0X") else value
    if not _ADDRESS_BODY.fullmatch(body):
        raise InvalidIdentifierError(f"invalid Ethereum address {value!r}: need 40 hex digits, optionally after 0x")
    return EthereumAddress("0x" + body.lower())


def installation_key(public_key: bytes) -> InstallationKey:
    """An installation identifier; the key must be a 32-byte Ed25519 public key."""
    if len(public_key) != 32:
        raise InvalidIdentifierError(f"installation key must be 32 bytes, got {len(public_key)}")
    return InstallationKey(bytes(public_key))


def passkey(key: bytes, relying_party: str | None = None) -> Passkey:
    """A passkey identifier from its SEC1-encoded P-256 public key (33 or 65 bytes)."""
    if len(key) not in (33, 65):
        raise InvalidIdentifierError(f"passkey public key must be SEC1 P-256 (33 or 65 bytes), got {len(key)}")
    return Passkey(bytes(key), relying_party)
