"""Signature schemes: EIP-191 recovery rules, Ed25519ph with context, passkeys, smart-contract wallets."""

from __future__ import annotations

import base64
import hashlib
import json

import coincurve
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from xmtp_core.identity import EthereumAddress, InstallationKey, Passkey, ScwVerification, SignatureVerificationError
from xmtp_core.identity.scw_verifier import IdentityApiScwVerifier
from xmtp_core.identity.signatures import (
    INSTALLATION_KEY_CONTEXT,
    SECP256K1_N,
    AccountId,
    InstallationKeySignature,
    LegacyDelegatedSignature,
    PasskeySignature,
    SignatureKind,
    SmartContractWalletSignature,
    address_from_private_key,
    address_from_public_key,
    ed25519_public_key,
    eip191_hash,
    normalize_low_s,
    recover_eip191,
    sign_ed25519ph,
    sign_eip191,
    verify_ed25519ph,
    verify_signature,
    verify_signature_sync,
    webauthn_challenge,
)
from xmtp_core.protos.identity.api.v1 import identity_pb2

WALLET_KEY = bytes.fromhex("11" * 32)
TEXT = "XMTP : Authenticate to inbox\n\nsome text"


def _with_v(signature: bytes, v: int) -> bytes:
    return signature[:64] + bytes([v])


def test_eip191_signature_is_low_s_with_v_27_or_28() -> None:
    signature = sign_eip191(WALLET_KEY, TEXT)
    assert len(signature) == 65
    assert signature[64] in (27, 28)
    assert int.from_bytes(signature[32:64], "big") <= SECP256K1_N // 2


@pytest.mark.parametrize("offset", [0, 27, 35, 37])
def test_eip191_accepts_v_forms_alloy_accepts(offset: int) -> None:
    signature = sign_eip191(WALLET_KEY, TEXT)
    parity = signature[64] - 27
    # EIP-155 offsets (35, 37, ...) carry the parity in (v - 35) % 2.
    recovered = recover_eip191(TEXT, _with_v(signature, offset + parity))
    assert recovered.signer == address_from_private_key(WALLET_KEY)


@pytest.mark.parametrize("v", [2, 26, 29, 34])
def test_eip191_rejects_other_v(v: int) -> None:
    with pytest.raises(SignatureVerificationError):
        recover_eip191(TEXT, _with_v(sign_eip191(WALLET_KEY, TEXT), v))


def test_high_s_recovers_a_different_address_like_libxmtp() -> None:
    signature = sign_eip191(WALLET_KEY, TEXT)
    s = int.from_bytes(signature[32:64], "big")
    # The same signature in its high-s form: s' = n - s with the recovery parity flipped.
    high_s = signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([27 + ((signature[64] - 27) ^ 1)])
    plain_recovery = coincurve.PublicKey.from_signature_and_message(
        high_s[:64] + bytes([high_s[64] - 27]), eip191_hash(TEXT), hasher=None
    )
    assert address_from_public_key(plain_recovery.format()) == address_from_private_key(WALLET_KEY)
    # libxmtp folds s back to low-s without flipping v, so it recovers the "other" key: always send low-s.
    recovered = recover_eip191(TEXT, high_s)
    assert recovered.signer != address_from_private_key(WALLET_KEY)
    assert recovered.raw_bytes == normalize_low_s(high_s) == signature[:64] + high_s[64:]


def test_eip191_wrong_text_recovers_someone_else() -> None:
    signature = sign_eip191(WALLET_KEY, TEXT)
    assert recover_eip191(TEXT + " ", signature).signer != address_from_private_key(WALLET_KEY)


@pytest.mark.parametrize("length", [0, 64, 66])
def test_eip191_rejects_wrong_length(length: int) -> None:
    with pytest.raises(SignatureVerificationError):
        recover_eip191(TEXT, bytes(range(length)))


def test_eip191_rejects_zero_r() -> None:
    signature = sign_eip191(WALLET_KEY, TEXT)
    with pytest.raises(SignatureVerificationError):
        recover_eip191(TEXT, bytes(32) + signature[32:])


def test_eip191_hash_prefixes_the_utf8_length() -> None:
    text = "é"  # 2 bytes in UTF-8: the length is in bytes, not characters
    from Crypto.Hash import keccak

    expected = keccak.new(digest_bits=256, data=b"\x19Ethereum Signed Message:\n2" + text.encode()).digest()
    assert eip191_hash(text) == expected


SEED = bytes(range(32))


def test_ed25519ph_round_trip_and_context_binding() -> None:
    public = ed25519_public_key(SEED)
    signature = sign_ed25519ph(SEED, TEXT)
    verify_ed25519ph(public, TEXT, signature)
    with pytest.raises(SignatureVerificationError):
        verify_ed25519ph(public, TEXT, signature, context=b"PUBLIC SIGNATURE CONTEXT")
    with pytest.raises(SignatureVerificationError):
        verify_ed25519ph(public, TEXT + "x", signature)


def test_installation_signature_is_not_plain_ed25519() -> None:
    """Cross-check with `cryptography`: same key, plain Ed25519 over the text is a different signature."""
    plain_key = Ed25519PrivateKey.from_private_bytes(SEED)
    raw_public = plain_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw_public == ed25519_public_key(SEED)
    plain = plain_key.sign(TEXT.encode())
    assert plain != sign_ed25519ph(SEED, TEXT)
    with pytest.raises(SignatureVerificationError):
        verify_ed25519ph(raw_public, TEXT, plain)


def test_installation_signature_verifies_to_its_key() -> None:
    signature = InstallationKeySignature(sign_ed25519ph(SEED, TEXT), ed25519_public_key(SEED))
    verified = verify_signature_sync(TEXT, signature)
    assert verified.signer == InstallationKey(ed25519_public_key(SEED))
    assert verified.kind == SignatureKind.INSTALLATION_KEY
    other = InstallationKeySignature(signature.signature, ed25519_public_key(bytes(32)))
    with pytest.raises(SignatureVerificationError):
        verify_signature_sync(TEXT, other)
    assert INSTALLATION_KEY_CONTEXT == b"IDENTITY UPDATE SIGNATURE"


def make_passkey_signature(private: ec.EllipticCurvePrivateKey, text: str, origin: str) -> PasskeySignature:
    """What a WebAuthn authenticator returns for a challenge of base64url(text)."""
    client_data = json.dumps({"type": "webauthn.get", "challenge": webauthn_challenge(text), "origin": origin})
    authenticator_data = hashlib.sha256(b"example.com").digest() + b"\x05" + (1).to_bytes(4, "big")
    signed = authenticator_data + hashlib.sha256(client_data.encode()).digest()
    der = private.sign(signed, ec.ECDSA(hashes.SHA256()))
    public = private.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    return PasskeySignature(public, der, authenticator_data, client_data.encode())


def test_passkey_signature_recovers_key_and_relying_party() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    signature = make_passkey_signature(private, TEXT, "https://example.com")
    verified = verify_signature_sync(TEXT, signature)
    assert verified.signer == Passkey(signature.public_key)
    assert isinstance(verified.signer, Passkey)
    assert verified.signer.relying_party == "https://example.com"
    assert len(verified.raw_bytes) == 64
    assert base64.urlsafe_b64decode(webauthn_challenge(TEXT) + "==") == TEXT.encode()


def test_passkey_signature_for_other_text_is_refused() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SignatureVerificationError, match="challenge"):
        verify_signature_sync(TEXT + "!", make_passkey_signature(private, TEXT, "https://example.com"))


def test_passkey_signature_by_other_key_is_refused() -> None:
    signature = make_passkey_signature(ec.generate_private_key(ec.SECP256R1()), TEXT, "https://a.example")
    impostor = ec.generate_private_key(ec.SECP256R1()).public_key()
    swapped = PasskeySignature(
        impostor.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint),
        signature.signature,
        signature.authenticator_data,
        signature.client_data_json,
    )
    with pytest.raises(SignatureVerificationError):
        verify_signature_sync(TEXT, swapped)


def test_legacy_signatures_are_refused() -> None:
    with pytest.raises(SignatureVerificationError, match="legacy"):
        verify_signature_sync(TEXT, LegacyDelegatedSignature(b""))


class FakeScwVerifier:
    """Stands in for the node's VerifySmartContractWalletSignatures; records what it was asked."""

    def __init__(self, valid: bool) -> None:
        self.valid = valid
        self.calls: list[tuple[str, bytes, bytes, int | None]] = []

    async def __call__(
        self, account_id: str, message_hash: bytes, signature: bytes, block_number: int | None
    ) -> ScwVerification:
        self.calls.append((account_id, message_hash, signature, block_number))
        return ScwVerification(self.valid, block_number, None if self.valid else "bad")


async def test_scw_signature_goes_through_the_verifier_with_the_eip191_hash() -> None:
    verifier = FakeScwVerifier(valid=True)
    address = "0x" + "ab" * 20
    signature = SmartContractWalletSignature(f"eip155:8453:{address}", 123, b"sig")
    verified = await verify_signature(TEXT, signature, verifier)
    assert verified.signer == EthereumAddress(address)
    assert verified.chain_id == 8453
    assert verified.kind == SignatureKind.ERC1271
    assert verifier.calls == [(f"eip155:8453:{address}", eip191_hash(TEXT), b"sig", 123)]


async def test_scw_signature_refused_when_verifier_says_no() -> None:
    signature = SmartContractWalletSignature("eip155:1:0x" + "ab" * 20, 0, b"sig")
    with pytest.raises(SignatureVerificationError, match="invalid"):
        await verify_signature(TEXT, signature, FakeScwVerifier(valid=False))


async def test_scw_signature_needs_a_verifier() -> None:
    signature = SmartContractWalletSignature("eip155:1:0x" + "ab" * 20, 0, b"sig")
    with pytest.raises(SignatureVerificationError, match="verifier"):
        await verify_signature(TEXT, signature)


@pytest.mark.parametrize("account_id", ["eip155:1", "eip155:x:0xab", "solana:1:abc", "a:b:c:d", "eip155:1:$$"])
async def test_scw_bad_account_ids_are_refused(account_id: str) -> None:
    with pytest.raises(SignatureVerificationError):
        await verify_signature(TEXT, SmartContractWalletSignature(account_id, 0, b"s"), FakeScwVerifier(True))


def test_account_id_parse() -> None:
    account = AccountId.parse("eip155:10:0xAbC")
    assert (account.chain, account.address, account.chain_id) == ("eip155:10", "0xAbC", 10)
    assert str(account) == "eip155:10:0xAbC"


class FakeIdentityApi:
    """Stands in for the grpc.aio IdentityApiStub: answers from a table keyed by (account id, hash)."""

    def __init__(self, valid: set[tuple[str, bytes]]) -> None:
        self.valid = valid
        self.requests: list[identity_pb2.VerifySmartContractWalletSignaturesRequest] = []

    async def VerifySmartContractWalletSignatures(
        self, request: identity_pb2.VerifySmartContractWalletSignaturesRequest
    ) -> identity_pb2.VerifySmartContractWalletSignaturesResponse:
        self.requests.append(request)
        Answer = identity_pb2.VerifySmartContractWalletSignaturesResponse.ValidationResponse
        return identity_pb2.VerifySmartContractWalletSignaturesResponse(
            responses=[
                Answer(is_valid=True, block_number=s.block_number + 1)
                if (s.account_id, s.hash) in self.valid
                else Answer(is_valid=False, error="not the owner")
                for s in request.signatures
            ]
        )


async def test_node_backed_scw_verifier() -> None:
    account = "eip155:8453:0x" + "cd" * 20
    api = FakeIdentityApi({(account, eip191_hash(TEXT))})
    verifier = IdentityApiScwVerifier(api)
    verified = await verify_signature(TEXT, SmartContractWalletSignature(account, 7, b"sig"), verifier)
    assert verified.chain_id == 8453
    sent = api.requests[0].signatures[0]
    assert (sent.account_id, sent.block_number, sent.signature, sent.hash) == (account, 7, b"sig", eip191_hash(TEXT))
    with pytest.raises(SignatureVerificationError, match="not the owner"):
        await verify_signature(TEXT + "!", SmartContractWalletSignature(account, 7, b"sig"), verifier)
