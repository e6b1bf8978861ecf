"""Signature schemes of identity updates: create, and verify-and-recover the signer (reference §2.2).

* EOA wallets: EIP-191 `personal_sign` over secp256k1 (coincurve), Keccak-256 from pycryptodome; 65 bytes
  r‖s‖v with v = 27/28 on the way out. On the way in, v may be 0/1, 27/28 or EIP-155; a high s is folded to
  low s *without* flipping v (as libxmtp does), so a high-s signature recovers a different address.
* Installations: Ed25519ph (SHA-512 pre-hash, RFC 8032) with context "IDENTITY UPDATE SIGNATURE".
* Smart-contract wallets: ERC-1271/6492, checked by an injected async verifier over the EIP-191 hash.
* Passkeys: WebAuthn P-256 (verification only; signing needs an authenticator).
* Legacy V2 delegated keys: a wallet-signed V2 identity key signs the update (only on nonce-0 inboxes).

`VerifiedSignature.raw_bytes` is what goes into an inbox's seen-signature (replay) set; for EOA signatures
it is the low-s form, so flipping s cannot dodge replay detection. v is kept as sent (libxmtp does the same),
so re-sending a signature with another v encoding (0/1 vs 27/28) is *not* detected as a replay.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import coincurve
from Crypto.Hash import SHA512, keccak
from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from google.protobuf.message import DecodeError

from xmtp_core.identity.errors import InvalidIdentifierError, ScwVerifierRequiredError, SignatureVerificationError
from xmtp_core.identity.identifiers import (
    EthereumAddress,
    InstallationKey,
    MemberIdentifier,
    Passkey,
    ethereum_address,
)
from xmtp_core.protos.identity.associations import signature_pb2 as associations_signature_pb2
from xmtp_core.protos.message_contents import public_key_pb2
from xmtp_core.protos.message_contents import signature_pb2 as message_signature_pb2

INSTALLATION_KEY_CONTEXT = b"IDENTITY UPDATE SIGNATURE"
"""Ed25519ph context of installation signatures on identity updates."""

PUBLIC_SIGNATURE_CONTEXT = b"PUBLIC SIGNATURE CONTEXT"
"""Ed25519ph context of app-level signatures with the installation key (not used for identity updates)."""

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2
_CHAIN_ID = re.compile(r"[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}")
_ACCOUNT = re.compile(r"[-.%a-zA-Z0-9]{1,128}")


class SignatureKind(StrEnum):
    """The signature schemes an identity update may carry."""

    ERC191 = "erc-191"
    ERC1271 = "erc-1271"
    INSTALLATION_KEY = "installation-key"
    LEGACY_DELEGATED = "legacy-delegated"
    P256 = "p256"


@dataclass(frozen=True)
class Erc191Signature:
    """`Signature.erc_191`: 65 bytes r‖s‖v."""

    signature: bytes


@dataclass(frozen=True)
class InstallationKeySignature:
    """`Signature.installation_key`: 64-byte Ed25519ph signature and the 32-byte public key."""

    signature: bytes
    public_key: bytes


@dataclass(frozen=True)
class SmartContractWalletSignature:
    """`Signature.erc_6492`: account id `eip155:{chain}:{address}`, block number, opaque signature."""

    account_id: str
    block_number: int
    signature: bytes


@dataclass(frozen=True)
class PasskeySignature:
    """`Signature.passkey`: WebAuthn assertion over the text (challenge = base64url-nopad(text))."""

    public_key: bytes
    signature: bytes
    authenticator_data: bytes
    client_data_json: bytes


@dataclass(frozen=True)
class LegacyDelegatedSignature:
    """`Signature.delegated_erc_191` (a `LegacyDelegatedSignature` proto), kept serialized for exact round trips."""

    serialized: bytes


WireSignature = (
    Erc191Signature
    | InstallationKeySignature
    | SmartContractWalletSignature
    | PasskeySignature
    | LegacyDelegatedSignature
)


@dataclass(frozen=True)
class VerifiedSignature:
    """A signature that verified against the update text, with the signer it proves."""

    signer: MemberIdentifier
    kind: SignatureKind
    raw_bytes: bytes
    chain_id: int | None = None


@dataclass(frozen=True)
class ScwVerification:
    """The answer of a smart-contract-wallet verifier (mirrors VerifySmartContractWalletSignatures)."""

    is_valid: bool
    block_number: int | None = None
    error: str | None = None


class SmartContractWalletVerifier(Protocol):
    """Checks an ERC-1271/6492 signature over a 32-byte hash; the node's VerifySmartContractWalletSignatures
    backs it in production. Any async callable taking (account_id, message_hash, signature, block_number)
    positionally fits."""

    def __call__(
        self, account_id: str, message_hash: bytes, signature: bytes, block_number: int | None, /
    ) -> Awaitable[ScwVerification]: ...


# --- hashing and addresses ---------------------------------------------------------------------------------


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (Ethereum's hash, not SHA3-256) of `data`."""
    return keccak.new(digest_bits=256, data=data).digest()


def eip191_hash(text: str) -> bytes:
    """keccak256("\\x19Ethereum Signed Message:\\n" + len + message) over the UTF-8 text."""
    message = text.encode()
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message)


def address_from_public_key(public_key: bytes) -> EthereumAddress:
    """The lower-case `0x` address of a secp256k1 public key (any SEC1 encoding)."""
    try:
        uncompressed = coincurve.PublicKey(public_key).format(compressed=False)
    except ValueError as exc:
        raise InvalidIdentifierError("not a secp256k1 public key") from exc
    return EthereumAddress("0x" + keccak256(uncompressed[1:])[-20:].hex())


def address_from_private_key(private_key: bytes) -> EthereumAddress:
    """The lowercase 0x address of a secp256k1 private key."""
    return address_from_public_key(_secp256k1_key(private_key).public_key.format(compressed=False))


def _secp256k1_key(private_key: bytes) -> coincurve.PrivateKey:
    if len(private_key) != 32 or not 0 < int.from_bytes(private_key, "big") < SECP256K1_N:
        raise InvalidIdentifierError("secp256k1 private key must be 32 bytes in [1, n-1]")
    return coincurve.PrivateKey(private_key)


# --- EIP-191 ---------------------------------------------------------------------------------------------


def sign_eip191(private_key: bytes, text: str) -> bytes:
    """personal_sign: 65 bytes r‖s‖v, low s (libsecp256k1 always normalises), v = 27/28."""
    signature = _secp256k1_key(private_key).sign_recoverable(eip191_hash(text), hasher=None)
    return signature[:64] + bytes([27 + signature[64]])


def _recovery_parity(v: int) -> int:
    # alloy's rule: 0/1, 27/28, or an EIP-155 v (>= 35) whose parity is (v - 35) % 2.
    if v in (0, 1):
        return v
    if v in (27, 28):
        return v - 27
    if v >= 35:
        return (v - 35) % 2
    raise SignatureVerificationError(f"invalid recovery byte v={v}")


def normalize_low_s(signature: bytes) -> bytes:
    """Fold s into the lower half of the group order, leaving r and v untouched (libxmtp's `to_lower_s`)."""
    if len(signature) != 65:
        raise SignatureVerificationError(f"ECDSA signature must be 65 bytes, got {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        raise SignatureVerificationError("ECDSA r or s out of range")
    if s > _HALF_N:
        s = SECP256K1_N - s
    return signature[:32] + s.to_bytes(32, "big") + signature[64:]


def recover_eip191(text: str, signature: bytes) -> VerifiedSignature:
    """Recover the address that personal_signed `text`. A wrong text recovers a different address, not an error."""
    normalized = normalize_low_s(signature)
    parity = _recovery_parity(normalized[64])
    try:
        public_key = coincurve.PublicKey.from_signature_and_message(
            normalized[:64] + bytes([parity]), eip191_hash(text), hasher=None
        )
    except ValueError as exc:
        raise SignatureVerificationError("ECDSA public key recovery failed") from exc
    signer = address_from_public_key(public_key.format(compressed=False))
    return VerifiedSignature(signer, SignatureKind.ERC191, normalized)


# --- Ed25519ph (installation keys) -------------------------------------------------------------------------


def _ed25519_private(seed: bytes) -> ECC.EccKey:
    if len(seed) != 32:
        raise InvalidIdentifierError(f"Ed25519 private key must be a 32-byte seed, got {len(seed)}")
    return ECC.construct(curve="Ed25519", seed=seed)


def ed25519_public_key(seed: bytes) -> bytes:
    """The raw 32-byte Ed25519 public key of a 32-byte seed."""
    return bytes(_ed25519_private(seed).public_key().export_key(format="raw"))


def sign_ed25519ph(seed: bytes, text: str, context: bytes = INSTALLATION_KEY_CONTEXT) -> bytes:
    """Ed25519ph (SHA-512 pre-hash) of the UTF-8 text with an RFC 8032 context."""
    signer = eddsa.new(_ed25519_private(seed), "rfc8032", context=context)
    return bytes(signer.sign(SHA512.new(text.encode())))


def verify_ed25519ph(public_key: bytes, text: str, signature: bytes, context: bytes = INSTALLATION_KEY_CONTEXT) -> None:
    """Raise `SignatureVerificationError` unless `signature` is a valid Ed25519ph signature of `text`."""
    if len(public_key) != 32 or len(signature) != 64:
        raise SignatureVerificationError("Ed25519 needs a 32-byte key and a 64-byte signature")
    try:
        key = eddsa.import_public_key(public_key)
        eddsa.new(key, "rfc8032", context=context).verify(SHA512.new(text.encode()), signature)
    except ValueError as exc:
        raise SignatureVerificationError("Ed25519ph signature does not verify") from exc


def verify_installation_signature(text: str, signature: InstallationKeySignature) -> VerifiedSignature:
    """Check an installation's Ed25519ph signature over `text`; the signer is the installation key."""
    verify_ed25519ph(signature.public_key, text, signature.signature)
    return VerifiedSignature(InstallationKey(signature.public_key), SignatureKind.INSTALLATION_KEY, signature.signature)


# --- passkeys (WebAuthn P-256) ------------------------------------------------------------------------------


def webauthn_challenge(text: str) -> str:
    """The clientDataJSON challenge a passkey must sign for `text`: base64url without padding."""
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


MAX_CLIENT_DATA_JSON_BYTES = 4096
"""A WebAuthn clientDataJSON is a few hundred bytes (type, challenge, origin, crossOrigin); more is refused."""

MAX_CLIENT_DATA_JSON_DEPTH = 4
"""clientDataJSON is one flat object (tokenBinding adds a level); deeper nesting is refused before parsing."""


def _json_depth_within(data: bytes, limit: int) -> bool:
    # One pass over the bytes, so Python's recursive JSON decoder never sees nesting it cannot finish
    # (RecursionError). Brackets inside strings do not count; escapes are skipped.
    depth, in_string, escaped = 0, False, False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return True


def parse_client_data(client_data_json: bytes) -> tuple[str, object]:
    """The (origin, challenge) of a passkey's clientDataJSON, read with bounded size and nesting depth;
    anything else is `SignatureVerificationError`."""
    if len(client_data_json) > MAX_CLIENT_DATA_JSON_BYTES:
        raise SignatureVerificationError(
            f"passkey client data is {len(client_data_json)} bytes; the limit is {MAX_CLIENT_DATA_JSON_BYTES}"
        )
    if not _json_depth_within(client_data_json, MAX_CLIENT_DATA_JSON_DEPTH):
        raise SignatureVerificationError(f"passkey client data nests deeper than {MAX_CLIENT_DATA_JSON_DEPTH}")
    try:
        client_data = json.loads(client_data_json)
        origin, challenge = client_data["origin"], client_data["challenge"]
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise SignatureVerificationError("passkey client data is not JSON with origin and challenge") from exc
    if not isinstance(origin, str):
        raise SignatureVerificationError("passkey client data origin is not a string")
    return origin, challenge


def verify_passkey_signature(text: str, signature: PasskeySignature) -> VerifiedSignature:
    """Check the challenge and the P-256 signature over authenticatorData ‖ SHA-256(clientDataJSON)."""
    origin, challenge = parse_client_data(signature.client_data_json)
    if challenge != webauthn_challenge(text):
        raise SignatureVerificationError("passkey challenge does not match the signature text")
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), signature.public_key)
        r, s = decode_dss_signature(signature.signature)
        signed = signature.authenticator_data + hashlib.sha256(signature.client_data_json).digest()
        key.verify(signature.signature, signed, ec.ECDSA(hashes.SHA256()))
    except (ValueError, InvalidSignature) as exc:
        raise SignatureVerificationError("passkey signature does not verify") from exc
    # Replay detection keys on the fixed-size r‖s form, so DER re-encodings count as the same signature.
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return VerifiedSignature(Passkey(signature.public_key, origin), SignatureKind.P256, raw)


# --- legacy (V2) delegated keys ----------------------------------------------------------------------------


def legacy_key_text(key_bytes: bytes) -> str:
    """What a wallet signed (EIP-191) to create a V2 identity key: note the trailing slash of the footer."""
    return f"XMTP : Create Identity\n{key_bytes.hex()}\n\nFor more info: https://xmtp.org/signatures/"


def _legacy_wallet_signature(signature: message_signature_pb2.Signature) -> bytes:
    match signature.WhichOneof("union"):
        case "wallet_ecdsa_compact":
            raw, recovery = signature.wallet_ecdsa_compact.bytes, signature.wallet_ecdsa_compact.recovery
        case "ecdsa_compact":
            raw, recovery = signature.ecdsa_compact.bytes, signature.ecdsa_compact.recovery
        case _:
            raise SignatureVerificationError("legacy key has no wallet signature")
    if len(raw) != 64 or not 0 <= recovery <= 255:
        raise SignatureVerificationError("legacy key wallet signature is not 64 bytes + recovery id")
    return raw + bytes([recovery])


@dataclass(frozen=True)
class LegacyKey:
    """A validated V2 identity key: the wallet that signed it and the key's secp256k1 public key."""

    wallet_signature: VerifiedSignature
    public_key: bytes
    created_ns: int


def validate_legacy_key(signed_key: public_key_pb2.SignedPublicKey) -> LegacyKey:
    """Recover the wallet that signed a V2 `SignedPublicKey` and extract the key it vouches for."""
    try:
        unsigned = public_key_pb2.UnsignedPublicKey.FromString(signed_key.key_bytes)
    except DecodeError as exc:
        raise SignatureVerificationError("legacy key bytes do not decode") from exc
    if not unsigned.HasField("secp256k1_uncompressed"):
        raise SignatureVerificationError("legacy key is not a secp256k1 key")
    wallet = recover_eip191(legacy_key_text(signed_key.key_bytes), _legacy_wallet_signature(signed_key.signature))
    return LegacyKey(wallet, unsigned.secp256k1_uncompressed.bytes, unsigned.created_ns)


def verify_legacy_delegated(text: str, signature: LegacyDelegatedSignature) -> VerifiedSignature:
    """The wallet that created the V2 key, if that key signed `text`.

    The seen-signature entry is the *wallet's* signature of the key (as in libxmtp), so one legacy key can be
    used only once in an inbox log.
    """
    try:
        proto = associations_signature_pb2.LegacyDelegatedSignature.FromString(signature.serialized)
    except DecodeError as exc:
        raise SignatureVerificationError("legacy delegated signature does not decode") from exc
    if not proto.HasField("delegated_key"):
        raise SignatureVerificationError("legacy delegated signature lacks its key")
    key = validate_legacy_key(proto.delegated_key)
    by_key = recover_eip191(text, proto.signature.bytes)
    try:
        key_address = address_from_public_key(key.public_key)
    except InvalidIdentifierError as exc:
        raise SignatureVerificationError("legacy key is not a secp256k1 public key") from exc
    if by_key.signer != key_address:
        raise SignatureVerificationError("the update was not signed by the legacy key")
    return VerifiedSignature(
        key.wallet_signature.signer, SignatureKind.LEGACY_DELEGATED, key.wallet_signature.raw_bytes
    )


# --- smart-contract wallets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountId:
    """A CAIP-10 account id as XMTP uses it: `eip155:{chain_id}:{address}`."""

    chain: str
    address: str

    @classmethod
    def parse(cls, account_id: str) -> AccountId:
        """Parse a CAIP-10 account id `eip155:<chain>:<address>`."""
        parts = account_id.split(":")
        if len(parts) != 3:
            raise InvalidIdentifierError(f"account id {account_id!r} must have 3 ':'-separated parts")
        chain = f"{parts[0]}:{parts[1]}"
        if not _CHAIN_ID.fullmatch(chain) or not _ACCOUNT.fullmatch(parts[2]):
            raise InvalidIdentifierError(f"account id {account_id!r} is not a well-formed chain id and address")
        return cls(chain, parts[2])

    @property
    def chain_id(self) -> int:
        """The EVM chain id of the account."""
        prefix, _, number = self.chain.partition(":")
        if prefix != "eip155" or not number.isdigit() or int(number) >= 2**64:
            raise InvalidIdentifierError(f"chain {self.chain!r} is not eip155:<u64>")
        return int(number)

    def __str__(self) -> str:
        return f"{self.chain}:{self.address}"


async def verify_scw_signature(
    text: str, signature: SmartContractWalletSignature, verifier: SmartContractWalletVerifier
) -> VerifiedSignature:
    """Ask the injected verifier whether the smart-contract wallet signed the EIP-191 hash of `text`."""
    try:
        account = AccountId.parse(signature.account_id)
        chain_id = account.chain_id
        signer = ethereum_address(account.address)
    except InvalidIdentifierError as exc:
        raise SignatureVerificationError(f"bad smart-contract wallet account id: {exc}") from exc
    # libxmtp always passes the wire block number (even 0) as the block to check at.
    answer = await verifier(signature.account_id, eip191_hash(text), signature.signature, signature.block_number)
    if not answer.is_valid:
        raise SignatureVerificationError(f"smart-contract wallet signature is invalid: {answer.error or 'no reason'}")
    return VerifiedSignature(signer, SignatureKind.ERC1271, signature.signature, chain_id)


def verify_signature_sync(text: str, signature: WireSignature) -> VerifiedSignature:
    """Verify any signature kind that needs no network. Smart-contract wallets need `verify_signature`."""
    match signature:
        case Erc191Signature():
            return recover_eip191(text, signature.signature)
        case InstallationKeySignature():
            return verify_installation_signature(text, signature)
        case PasskeySignature():
            return verify_passkey_signature(text, signature)
        case LegacyDelegatedSignature():
            return verify_legacy_delegated(text, signature)
        case SmartContractWalletSignature():
            raise ScwVerifierRequiredError("smart-contract wallet signatures need an injected verifier")


async def verify_signature(
    text: str, signature: WireSignature, scw_verifier: SmartContractWalletVerifier | None = None
) -> VerifiedSignature:
    """Verify any signature kind; smart-contract wallets go through `scw_verifier`."""
    if isinstance(signature, SmartContractWalletSignature) and scw_verifier is not None:
        return await verify_scw_signature(text, signature, scw_verifier)
    return verify_signature_sync(text, signature)
