"""What devnode checks in the MLS payloads it stores, using xmtp_core's MLS codecs (the node never decrypts):
an uploaded KeyPackage (RFC 9420 §10.1 for any suite 1–7, a lifetime with clock skew, the XMTP credential's
inbox id) and a group message's cleartext routing header. Every failure is an `InvalidInput` with the reason."""

from __future__ import annotations

import time
from dataclasses import dataclass

from xmtp_core.identity import InvalidInboxIdError, require_inbox_id
from xmtp_core.mls.cipher_suite import get_cipher_suite, supported_cipher_suites
from xmtp_core.mls.errors import MLSError
from xmtp_core.mls.extensions import Lifetime
from xmtp_core.mls.framing import GroupMessageHeader, peek_group_message
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.xmtp_mls.credential import inbox_id_from_credential
from xmtp_core.xmtp_mls.errors import CredentialError

from devnode.errors import InvalidInput

# libxmtp back-dates not_before by an hour and clocks differ, so a slightly future not_before is accepted.
_CLOCK_SKEW_S = 3600


def group_message_header(data: bytes) -> GroupMessageHeader:
    """The group id, epoch and content type of a TLS MLSMessage that must be a Public- or PrivateMessage."""
    try:
        header = peek_group_message(data)
    except MLSError as exc:
        raise InvalidInput(f"MLS message: {exc}") from exc
    if not header.group_id:
        raise InvalidInput("MLS message: empty group_id")
    return header


@dataclass(frozen=True)
class VerifiedKeyPackage:
    """A key package that passed `verify_key_package`, with the leaf lifetime it was checked against."""

    key_package: KeyPackage
    lifetime: Lifetime

    @property
    def installation_key(self) -> bytes:
        """XMTP's installation key is the leaf's signature key."""
        return self.key_package.leaf_node.signature_key


def verify_key_package(data: bytes, *, now: int | None = None) -> VerifiedKeyPackage:
    """Decode a bare TLS KeyPackage and apply the checks that need no identity state: structure, version, a
    supported suite, leaf source, both signatures, init_key ≠ encryption_key and the lifetime (`now` in Unix
    seconds, default the clock)."""
    try:
        kp = KeyPackage.from_bytes(data)
    except MLSError as exc:
        raise InvalidInput(f"key package does not decode: {exc}") from exc
    if kp.cipher_suite not in supported_cipher_suites():
        raise InvalidInput(f"key package: unsupported ciphersuite {kp.cipher_suite:#06x}")
    try:
        kp.validate(get_cipher_suite(kp.cipher_suite))
    except MLSError as exc:
        raise InvalidInput(f"key package rejected: {exc}") from exc
    if not kp.init_key or not kp.leaf_node.encryption_key:
        raise InvalidInput("key package: empty init_key or encryption_key")
    return VerifiedKeyPackage(kp, _check_lifetime(kp, int(time.time()) if now is None else now))


def _check_lifetime(kp: KeyPackage, now: int) -> Lifetime:
    lifetime = kp.leaf_node.lifetime
    if lifetime is None:  # decoding guarantees one for key_package leaves; kept for the type checker
        raise InvalidInput("key package: leaf has no lifetime")
    if lifetime.not_before > lifetime.not_after:
        raise InvalidInput("key package: lifetime not_before is after not_after")
    if now + _CLOCK_SKEW_S < lifetime.not_before:
        raise InvalidInput("key package: not valid yet (lifetime not_before in the future)")
    if now > lifetime.not_after:
        raise InvalidInput("key package: expired (lifetime not_after has passed)")
    return lifetime


def key_package_inbox_id(kp: KeyPackage) -> str:
    """The inbox a key package claims: its Basic credential's identity is `xmtp.identity.MlsCredential`."""
    try:
        return require_inbox_id(inbox_id_from_credential(kp.leaf_node.credential), "credential inbox_id")
    except (CredentialError, InvalidInboxIdError) as exc:
        raise InvalidInput(f"key package: {exc}") from exc
