"""This installation's keys, credential and key packages, and when to rotate the published key package."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.credentials import Credential
from xmtp_core.xmtp_mls.constants import XMTP_CIPHERSUITE
from xmtp_core.xmtp_mls.credential import build_credential
from xmtp_core.xmtp_mls.key_package import KeyPackageBundle, build_key_package

# Rotate a while before the 84-day lifetime ends so peers never fetch an expired key package.
ROTATE_BEFORE_EXPIRY_NS = 7 * 86400 * 10**9
HMAC_KEY_INFO = b"switchboard/engine/sender-hmac-key"


@dataclass(frozen=True)
class InstallationKeys:
    """An installation of ``inbox_id``: its 32-byte Ed25519 seed and the public installation key."""

    inbox_id: str
    private_seed: bytes = field(repr=False)
    installation_key: bytes

    def __post_init__(self) -> None:
        if len(self.private_seed) != 32:
            raise ValueError("the installation seed must be 32 bytes (Ed25519)")

    @classmethod
    def from_seed(cls, inbox_id: str, private_seed: bytes) -> InstallationKeys:
        """The installation of ``inbox_id`` whose Ed25519 seed is ``private_seed``."""
        public = get_cipher_suite(XMTP_CIPHERSUITE).signature_public_key(private_seed)
        return cls(inbox_id, private_seed, public)

    @classmethod
    def generate(cls, inbox_id: str) -> InstallationKeys:
        """A new installation of ``inbox_id`` with a random seed."""
        return cls.from_seed(inbox_id, os.urandom(32))

    @property
    def credential(self) -> Credential:
        """Our XMTP credential (BasicCredential with the MlsCredential of our inbox id)."""
        return build_credential(self.inbox_id)

    def hmac_key(self) -> bytes:
        """The sender-HMAC key (push self-filter); derived from the seed so it survives restarts."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=42, salt=None, info=HMAC_KEY_INFO)
        return hkdf.derive(self.private_seed)


def new_key_package(keys: InstallationKeys, *, now: int | None = None) -> KeyPackageBundle:
    """A last-resort key package with an X-Wing wrapper key and Welcome-pointer support, as libxmtp 1.9.1 uploads."""
    return build_key_package(keys.inbox_id, keys.private_seed, now=now)


def key_package_expires_ns(bundle: KeyPackageBundle) -> int:
    """When the bundle's key package stops being valid (ns since the epoch)."""
    lifetime = bundle.key_package.leaf_node.lifetime
    if lifetime is None:
        raise ValueError("key package has no lifetime")
    return lifetime.not_after * 10**9


def should_rotate(*, expires_ns: int, now_ns: int, used_by_welcome: bool) -> bool:
    """Rotate after a Welcome consumed the published key package (fresh init keys for the next joiner) or
    when it nears expiry."""
    return used_by_welcome or now_ns >= expires_ns - ROTATE_BEFORE_EXPIRY_NS
