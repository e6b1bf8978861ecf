"""The MLS key schedule (RFC 9420 §8): per-epoch secrets, the welcome key and nonce, and MLS-Exporter.

Inputs are the previous epoch's ``init_secret``, the ``commit_secret`` from TreeKEM (zeros when no path), the
``psk_secret`` (zeros without PSKs, see ``psk``) and the serialised GroupContext of the new epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmtp_core.mls.cipher_suite import CipherSuite
from xmtp_core.mls.codec import encode_vec

# HPKE export label of an ExternalInit proposal's init_secret (RFC 9420 §8.3).
EXTERNAL_INIT_EXPORT_LABEL = b"MLS 1.0 external init secret"


@dataclass(frozen=True, repr=False)
class EpochSecrets:
    """Everything the key schedule yields for one epoch (RFC 9420 §8, Table 4); every field is secret, so the
    repr shows none."""

    joiner_secret: bytes
    welcome_secret: bytes
    epoch_secret: bytes
    sender_data_secret: bytes
    encryption_secret: bytes
    exporter_secret: bytes
    external_secret: bytes
    confirmation_key: bytes
    membership_key: bytes
    resumption_psk: bytes
    epoch_authenticator: bytes
    init_secret: bytes

    def __repr__(self) -> str:
        return "EpochSecrets(<secret>)"


def zero_secret(cs: CipherSuite) -> bytes:
    """The all-zero Nh-byte value used for an absent commit_secret or psk_secret."""
    return bytes(cs.hash_len)


def joiner_secret(cs: CipherSuite, init_secret: bytes, commit_secret: bytes | None, group_context: bytes) -> bytes:
    """joiner_secret from init_secret, commit_secret and the new GroupContext (§8)."""
    prk = cs.kdf_extract(init_secret, commit_secret if commit_secret is not None else zero_secret(cs))
    return cs.expand_with_label(prk, b"joiner", group_context, cs.hash_len)


def _member_prk(cs: CipherSuite, joiner: bytes, psk_secret: bytes | None) -> bytes:
    return cs.kdf_extract(joiner, psk_secret if psk_secret is not None else zero_secret(cs))


def welcome_secret(cs: CipherSuite, joiner: bytes, psk_secret: bytes | None) -> bytes:
    """welcome_secret from joiner_secret and psk_secret (§8)."""
    return cs.derive_secret(_member_prk(cs, joiner, psk_secret), b"welcome")


def welcome_key_nonce(cs: CipherSuite, welcome: bytes) -> tuple[bytes, bytes]:
    """AEAD key and nonce that protect a Welcome's GroupInfo (RFC 9420 §12.4.3.1)."""
    key = cs.expand_with_label(welcome, b"key", b"", cs.aead_key_len)
    nonce = cs.expand_with_label(welcome, b"nonce", b"", cs.aead_nonce_len)
    return key, nonce


def epoch_secrets_from_joiner(
    cs: CipherSuite, joiner: bytes, psk_secret: bytes | None, group_context: bytes
) -> EpochSecrets:
    """Derive the epoch's secrets from ``joiner_secret`` (the path a Welcome recipient takes)."""
    prk = _member_prk(cs, joiner, psk_secret)
    epoch = cs.expand_with_label(prk, b"epoch", group_context, cs.hash_len)

    def derive(label: bytes) -> bytes:
        return cs.derive_secret(epoch, label)

    return EpochSecrets(
        joiner_secret=joiner,
        welcome_secret=cs.derive_secret(prk, b"welcome"),
        epoch_secret=epoch,
        sender_data_secret=derive(b"sender data"),
        encryption_secret=derive(b"encryption"),
        exporter_secret=derive(b"exporter"),
        external_secret=derive(b"external"),
        confirmation_key=derive(b"confirm"),
        membership_key=derive(b"membership"),
        resumption_psk=derive(b"resumption"),
        epoch_authenticator=derive(b"authentication"),
        init_secret=derive(b"init"),
    )


def epoch_secrets(
    cs: CipherSuite,
    init_secret: bytes,
    commit_secret: bytes | None,
    psk_secret: bytes | None,
    group_context: bytes,
) -> EpochSecrets:
    """Derive the new epoch's secrets from the previous ``init_secret`` (the path a committer takes)."""
    joiner = joiner_secret(cs, init_secret, commit_secret, group_context)
    return epoch_secrets_from_joiner(cs, joiner, psk_secret, group_context)


def external_key_pair(cs: CipherSuite, external_secret: bytes) -> tuple[bytes, bytes]:
    """(external_priv, external_pub) = KEM.DeriveKeyPair(external_secret), RFC 9420 §8.3."""
    return cs.derive_key_pair(external_secret)


def mls_exporter(cs: CipherSuite, exporter_secret: bytes, label: bytes, context: bytes, length: int) -> bytes:
    """MLS-Exporter(Label, Context, Length), RFC 9420 §8.5."""
    return cs.expand_with_label(cs.derive_secret(exporter_secret, label), b"exported", cs.hash(context), length)


def confirmation_tag(cs: CipherSuite, confirmation_key: bytes, confirmed_transcript_hash: bytes) -> bytes:
    """RFC 9420 §6.1: MAC(confirmation_key, confirmed_transcript_hash)."""
    return cs.mac(confirmation_key, confirmed_transcript_hash)


def confirmed_transcript_hash(cs: CipherSuite, interim_before: bytes, confirmed_input: bytes) -> bytes:
    """RFC 9420 §8.2; ``confirmed_input`` is ConfirmedTranscriptHashInput (wire_format, content, signature)."""
    return cs.hash(interim_before + confirmed_input)


def interim_transcript_hash(cs: CipherSuite, confirmed: bytes, tag: bytes) -> bytes:
    """RFC 9420 §8.2: Hash(confirmed || InterimTranscriptHashInput{confirmation_tag<V>})."""
    return cs.hash(confirmed + encode_vec(tag))
