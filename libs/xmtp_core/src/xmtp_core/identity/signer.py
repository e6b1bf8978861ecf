"""Who signs identity updates: the `Signer` protocol, a local EOA wallet signer and an installation key signer.

The builder only needs `identifier` and `async sign(text) -> bytes`, so a remote signer (KMS, wallet
service, hardware) plugs in by implementing the protocol. Smart-contract wallets additionally expose
`chain_id`/`block_number` (`SmartContractWalletSigner`) so the builder emits an `erc_6492` signature.

The local wallet key never comes from code or arguments in production paths: `LocalWalletSigner.from_env()`
reads `XMTP_WALLET_KEY` (hex) or the file named by `XMTP_WALLET_KEY_FILE`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from xmtp_core.identity.errors import InvalidIdentifierError, SignerConfigurationError
from xmtp_core.identity.identifiers import EthereumAddress, InstallationKey, MemberIdentifier
from xmtp_core.identity.signatures import address_from_private_key, ed25519_public_key, sign_ed25519ph, sign_eip191

WALLET_KEY_ENV = "XMTP_WALLET_KEY"
WALLET_KEY_FILE_ENV = "XMTP_WALLET_KEY_FILE"


@runtime_checkable
class Signer(Protocol):
    """Anything that can sign identity-update text for one member identifier."""

    @property
    def identifier(self) -> MemberIdentifier:
        """Who signs: the member identifier the signature must recover to."""

    async def sign(self, text: str) -> bytes:
        """The signature bytes over `text` in this signer's scheme."""


@runtime_checkable
class SmartContractWalletSigner(Signer, Protocol):
    """A smart-contract wallet signer: its signatures are ERC-1271/6492 and are checked on `chain_id`."""

    @property
    def chain_id(self) -> int:
        """The chain the wallet contract lives on."""

    @property
    def block_number(self) -> int:
        """The block at which the signature is to be checked."""


def _parse_hex_key(text: str, source: str) -> bytes:
    body = text.strip()
    body = body[2:] if body[:2] in ("0x", "0X") else body
    try:
        key = bytes.fromhex(body)
    except ValueError as exc:
        raise SignerConfigurationError(f"{source} is not hex") from exc
    if len(key) != 32:
        raise SignerConfigurationError(f"{source} must hold a 32-byte secp256k1 key, got {len(key)} bytes")
    return key


class LocalWalletSigner:
    """An EOA wallet whose secp256k1 key is held in this process; signs with EIP-191 personal_sign."""

    def __init__(self, private_key: bytes) -> None:
        try:
            self._address = address_from_private_key(private_key)
        except InvalidIdentifierError as exc:
            raise SignerConfigurationError(str(exc)) from exc
        self._key = bytes(private_key)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LocalWalletSigner:
        """Load the key from `XMTP_WALLET_KEY` (hex) or, failing that, the file named by `XMTP_WALLET_KEY_FILE`."""
        env = os.environ if environ is None else environ
        if value := env.get(WALLET_KEY_ENV):
            return cls(_parse_hex_key(value, WALLET_KEY_ENV))
        if path := env.get(WALLET_KEY_FILE_ENV):
            return cls.from_file(Path(path))
        raise SignerConfigurationError(f"set {WALLET_KEY_ENV} or {WALLET_KEY_FILE_ENV} to provide the wallet key")

    @classmethod
    def from_file(cls, path: Path) -> LocalWalletSigner:
        """Load a hex key from a secret file (e.g. a mounted Kubernetes secret)."""
        try:
            text = path.read_text()
        except OSError as exc:
            raise SignerConfigurationError(f"cannot read wallet key file {path}: {exc.strerror}") from exc
        return cls(_parse_hex_key(text, f"wallet key file {path}"))

    @classmethod
    def generate(cls) -> LocalWalletSigner:
        """A fresh random wallet (tests and throwaway identities)."""
        return cls(secrets.token_bytes(32))

    @property
    def identifier(self) -> EthereumAddress:
        """The wallet's Ethereum address."""
        return self._address

    async def sign(self, text: str) -> bytes:
        """An EIP-191 personal_sign signature over `text` (65 bytes, v = 27/28)."""
        return sign_eip191(self._key, text)

    def __repr__(self) -> str:
        return f"LocalWalletSigner({self._address.address})"


class InstallationKeySigner:
    """An installation's Ed25519 key; signs identity updates with Ed25519ph and the XMTP context."""

    def __init__(self, seed: bytes) -> None:
        try:
            self._public = ed25519_public_key(seed)
        except InvalidIdentifierError as exc:
            raise SignerConfigurationError(str(exc)) from exc
        self._seed = bytes(seed)

    @classmethod
    def generate(cls) -> InstallationKeySigner:
        """A signer for a fresh random Ed25519 key."""
        return cls(secrets.token_bytes(32))

    @property
    def identifier(self) -> InstallationKey:
        """The installation key this signer signs as."""
        return InstallationKey(self._public)

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self._public

    @property
    def private_seed(self) -> bytes:
        """The 32-byte seed, for storing the installation and using the same key as the MLS signature key."""
        return self._seed

    def sign_sync(self, text: str) -> bytes:
        """An Ed25519ph signature over `text` with XMTP's identity-update context."""
        return sign_ed25519ph(self._seed, text)

    async def sign(self, text: str) -> bytes:
        """`sign_sync`, for the async `Signer` protocol."""
        return self.sign_sync(text)

    def __repr__(self) -> str:
        return f"InstallationKeySigner({self._public.hex()})"
