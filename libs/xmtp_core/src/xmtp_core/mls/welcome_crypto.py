"""Welcome encryption and decryption (RFC 9420 §12.4.3.1): GroupSecrets sealed to each new member's
init key with EncryptWithLabel("Welcome"), and the GroupInfo sealed with the welcome key and nonce."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls.errors import CryptoError, DecodeError, ValidationError
from xmtp_core.mls.group_info import GroupInfo
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.psk import PreSharedKeyID
from xmtp_core.mls.update_path import HPKECiphertext
from xmtp_core.mls.welcome import EncryptedGroupSecrets, GroupSecrets, Welcome

if TYPE_CHECKING:
    from xmtp_core.mls.cipher_suite import CipherSuite

WELCOME_LABEL = b"Welcome"


@dataclass(frozen=True)
class WelcomeRecipient:
    """A new member to welcome and the path secret it is owed, if any."""

    key_package: KeyPackage
    path_secret: bytes | None = field(default=None, repr=False)


def encrypt_welcome(
    suite: CipherSuite,
    group_info: GroupInfo,
    joiner_secret: bytes,
    recipients: Sequence[WelcomeRecipient],
    psks: tuple[PreSharedKeyID, ...] = (),
    psk_secret: bytes | None = None,
) -> Welcome:
    """A Welcome carrying ``group_info`` to ``recipients`` (RFC 9420 §12.4.3.1)."""
    welcome_secret = ks.welcome_secret(suite, joiner_secret, psk_secret)
    key, nonce = ks.welcome_key_nonce(suite, welcome_secret)
    encrypted_group_info = suite.aead_encrypt(key, nonce, b"", group_info.to_bytes())
    secrets = []
    for rcpt in recipients:
        gs = GroupSecrets(joiner_secret, rcpt.path_secret, psks).to_bytes()
        kem_output, ct = suite.encrypt_with_label(rcpt.key_package.init_key, WELCOME_LABEL, encrypted_group_info, gs)
        secrets.append(EncryptedGroupSecrets(rcpt.key_package.ref(suite), HPKECiphertext(kem_output, ct)))
    return Welcome(suite.suite_id, tuple(secrets), encrypted_group_info)


def decrypt_group_secrets(
    suite: CipherSuite, welcome: Welcome, key_package_ref: bytes, init_priv: bytes
) -> GroupSecrets:
    """The GroupSecrets a Welcome holds for the KeyPackage ``key_package_ref``."""
    if welcome.cipher_suite != suite.suite_id:
        raise ValidationError("RFC 9420 §12.4.3.1: Welcome cipher suite differs from the KeyPackage's")
    entry = next((s for s in welcome.secrets if s.new_member == key_package_ref), None)
    if entry is None:
        raise ValidationError("RFC 9420 §12.4.3.1: Welcome has no secrets for this KeyPackage")
    ct = entry.encrypted_group_secrets
    plain = suite.decrypt_with_label(
        init_priv, WELCOME_LABEL, welcome.encrypted_group_info, ct.kem_output, ct.ciphertext
    )
    try:
        return GroupSecrets.from_bytes(plain)
    except DecodeError as exc:
        raise DecodeError(f"RFC 9420 §12.4.3.1: GroupSecrets malformed: {exc}") from exc


def decrypt_group_info(
    suite: CipherSuite, welcome: Welcome, joiner_secret: bytes, psk_secret: bytes | None = None
) -> GroupInfo:
    """The GroupInfo of a Welcome, under the key derived from the joiner secret."""
    key, nonce = ks.welcome_key_nonce(suite, ks.welcome_secret(suite, joiner_secret, psk_secret))
    try:
        plain = suite.aead_decrypt(key, nonce, b"", welcome.encrypted_group_info)
    except CryptoError as exc:
        raise CryptoError("RFC 9420 §12.4.3.1: GroupInfo does not decrypt with the welcome key") from exc
    return GroupInfo.from_bytes(plain)
