"""Legacy (V2) delegated keys: the wallet-signed V2 key signs the identity update; nonce-0 inboxes only.

The `SignedPublicKey` vector is libxmtp's `verified_signature.rs` test `validate_good_key_round_trip`
(xmtp/libxmtp, MIT): a real V2 key signed by wallet 0x220ca99fb7fafa18cb623d924794dde47b4bc2e9.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools

import coincurve
import pytest
from xmtp_core.identity import (
    AssociationError,
    AssociationState,
    EthereumAddress,
    InstallationKeySigner,
    LocalWalletSigner,
    Rule,
    apply_update_sync,
    build_revoke_installation,
    inbox_id,
    verify_log_sync,
)
from xmtp_core.identity.codec import (
    DecodedUpdate,
    SignedAction,
    SignedAddAssociation,
    SignedCreateInbox,
    SignedRevokeAssociation,
    encode_update,
)
from xmtp_core.identity.signature_text import UnsignedAddAssociation, UnsignedCreateInbox, UnsignedRevokeAssociation
from xmtp_core.identity.signatures import (
    InstallationKeySignature,
    LegacyDelegatedSignature,
    SignatureVerificationError,
    legacy_key_text,
    sign_eip191,
    validate_legacy_key,
    verify_signature_sync,
)
from xmtp_core.protos.identity.associations import association_pb2 as pb
from xmtp_core.protos.identity.associations import signature_pb2 as assoc_sig
from xmtp_core.protos.message_contents import public_key_pb2
from xmtp_core.protos.message_contents import signature_pb2 as msg_sig

LIBXMTP_LEGACY_KEY = bytes.fromhex(
    "0a4f08c0c3a5aecb99e7d5171a430a4104d854aefcc6e1dba8efa63ee9ce6c359b5784082b5b245b515dd543f145051f"
    "f9ba817790042c364cb95f3d17e74807a91246714fad520d2592c92baeb4217d2b124612440a40078864ac9bf7e6fffd"
    "f74e32d4e2294eefb788f77a589bf5dbb7d7ca2a59a28060607883114626e7021b5b1d426e808c012ad9b902b5d0648f"
    "8fdb9fae01e9bf1001"
)


def test_libxmtp_legacy_key_vector() -> None:
    key = validate_legacy_key(public_key_pb2.SignedPublicKey.FromString(LIBXMTP_LEGACY_KEY))
    assert key.wallet_signature.signer == EthereumAddress("0x220ca99fb7fafa18cb623d924794dde47b4bc2e9")
    assert len(key.public_key) == 65 and key.public_key[0] == 4


WALLET_KEY = hashlib.sha256(b"legacy wallet").digest()
V2_KEY = hashlib.sha256(b"legacy v2 key").digest()
WALLET = LocalWalletSigner(WALLET_KEY).identifier
_clock = itertools.count(1_690_000_000_000_000_000, 1_000_000_000)


def legacy_signature(text: str, v2_key: bytes = V2_KEY, update_key: bytes | None = None) -> LegacyDelegatedSignature:
    """A V2 key created by WALLET, signing `text` (with `update_key` instead, to forge)."""
    public = coincurve.PrivateKey(v2_key).public_key.format(compressed=False)
    key_bytes = public_key_pb2.UnsignedPublicKey(
        created_ns=1, secp256k1_uncompressed=public_key_pb2.UnsignedPublicKey.Secp256k1Uncompressed(bytes=public)
    ).SerializeToString()
    wallet_signature = sign_eip191(WALLET_KEY, legacy_key_text(key_bytes))
    compact = msg_sig.Signature.WalletECDSACompact(bytes=wallet_signature[:64], recovery=wallet_signature[64] - 27)
    signed_key = public_key_pb2.SignedPublicKey(
        key_bytes=key_bytes, signature=msg_sig.Signature(wallet_ecdsa_compact=compact)
    )
    by_key = sign_eip191(update_key or v2_key, text)
    proto = assoc_sig.LegacyDelegatedSignature(
        delegated_key=signed_key, signature=assoc_sig.RecoverableEcdsaSignature(bytes=by_key)
    )
    return LegacyDelegatedSignature(proto.SerializeToString())


def legacy_register(nonce: int, device: InstallationKeySigner, *, update_key: bytes | None = None) -> pb.IdentityUpdate:
    """CreateInbox + AddAssociation signed by the legacy key, as a migrating V2 client would."""
    placeholder = LegacyDelegatedSignature(b"")
    create = UnsignedCreateInbox(WALLET, nonce)
    add = UnsignedAddAssociation(device.identifier)
    unsigned = DecodedUpdate(
        inbox_id(WALLET, nonce),
        next(_clock),
        (SignedCreateInbox(create, placeholder), SignedAddAssociation(add, placeholder, placeholder)),
    )
    text = unsigned.text()
    legacy = legacy_signature(text, update_key=update_key)
    installation = InstallationKeySignature(device.sign_sync(text), device.public_key)
    actions: tuple[SignedAction, ...] = (
        SignedCreateInbox(create, legacy),
        SignedAddAssociation(add, legacy, installation),
    )
    return encode_update(DecodedUpdate(unsigned.inbox_id, unsigned.client_timestamp_ns, actions))


def test_legacy_signature_recovers_the_wallet() -> None:
    verified = verify_signature_sync("some text", legacy_signature("some text"))
    assert verified.signer == WALLET
    with pytest.raises(SignatureVerificationError, match="legacy key"):
        verify_signature_sync("some text", legacy_signature("some text", update_key=WALLET_KEY))
    with pytest.raises(SignatureVerificationError):
        verify_signature_sync("some text", LegacyDelegatedSignature(b"\xff\xff"))


def test_legacy_key_registers_the_nonce_zero_inbox() -> None:
    device = InstallationKeySigner.generate()
    state = verify_log_sync([legacy_register(0, device)])
    assert state.inbox_id == inbox_id(WALLET, 0)
    assert state.installation_keys() == [device.public_key]


def test_legacy_key_on_other_nonce_is_refused() -> None:
    with pytest.raises(AssociationError) as caught:
        verify_log_sync([legacy_register(1, InstallationKeySigner.generate())])
    assert caught.value.rule == Rule.LEGACY_SIGNATURE


def test_legacy_update_signed_by_another_key_is_refused() -> None:
    with pytest.raises(AssociationError) as caught:
        verify_log_sync([legacy_register(0, InstallationKeySigner.generate(), update_key=WALLET_KEY)])
    assert caught.value.rule == Rule.INVALID_SIGNATURE


def _legacy_state() -> AssociationState:
    return verify_log_sync([legacy_register(0, InstallationKeySigner.generate())])


def test_legacy_key_cannot_be_used_twice() -> None:
    state = _legacy_state()
    device = InstallationKeySigner.generate()
    add = UnsignedAddAssociation(device.identifier)
    unsigned = DecodedUpdate(
        state.inbox_id,
        next(_clock),
        (SignedAddAssociation(add, LegacyDelegatedSignature(b""), LegacyDelegatedSignature(b"")),),
    )
    text = unsigned.text()
    again = DecodedUpdate(
        state.inbox_id,
        unsigned.client_timestamp_ns,
        (
            SignedAddAssociation(
                add, legacy_signature(text), InstallationKeySignature(device.sign_sync(text), device.public_key)
            ),
        ),
    )
    with pytest.raises(AssociationError) as caught:
        apply_update_sync(state, encode_update(again))
    assert caught.value.rule == Rule.REPLAY


def test_legacy_key_cannot_revoke() -> None:
    state = _legacy_state()
    target = InstallationKeySigner.generate().identifier
    revoke = UnsignedRevokeAssociation(target)
    unsigned = DecodedUpdate(
        state.inbox_id, next(_clock), (SignedRevokeAssociation(revoke, LegacyDelegatedSignature(b"")),)
    )
    signed = DecodedUpdate(
        state.inbox_id,
        unsigned.client_timestamp_ns,
        (SignedRevokeAssociation(revoke, legacy_signature(unsigned.text(), v2_key=hashlib.sha256(b"fresh").digest())),),
    )
    with pytest.raises(AssociationError) as caught:
        apply_update_sync(state, encode_update(signed))
    assert caught.value.rule == Rule.SIGNATURE_KIND_NOT_ALLOWED
    # The wallet itself (the recovery identifier) may revoke.
    real = asyncio.run(build_revoke_installation(state.inbox_id, LocalWalletSigner(WALLET_KEY), target.public_key))
    assert apply_update_sync(state, real).inbox_id == state.inbox_id
