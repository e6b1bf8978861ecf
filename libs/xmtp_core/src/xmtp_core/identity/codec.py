"""Conversion between the `xmtp.identity.associations` protobufs and the identity package's dataclasses.

Decoding mirrors libxmtp's deserialisation: identifiers are taken exactly as they appear on the wire (no
case normalisation), an unspecified identifier kind means Ethereum, and any missing oneof or field the
protocol requires makes the update malformed (`AssociationError(MALFORMED_UPDATE)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xmtp_core.identity.errors import AssociationError, InvalidIdentifierError, Rule
from xmtp_core.identity.identifiers import (
    EthereumAddress,
    InstallationKey,
    MemberIdentifier,
    Passkey,
    RootIdentifier,
)
from xmtp_core.identity.signature_text import (
    UnsignedAddAssociation,
    UnsignedChangeRecoveryAddress,
    UnsignedCreateInbox,
    UnsignedRevokeAssociation,
    signature_text,
)
from xmtp_core.identity.signatures import (
    AccountId,
    Erc191Signature,
    InstallationKeySignature,
    LegacyDelegatedSignature,
    PasskeySignature,
    SmartContractWalletSignature,
    WireSignature,
)
from xmtp_core.protos.identity.associations import association_pb2 as pb
from xmtp_core.protos.identity.associations import signature_pb2 as sig_pb

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


@dataclass(frozen=True)
class SignedCreateInbox:
    """A decoded CreateInbox action and its signature (not yet verified)."""

    unsigned: UnsignedCreateInbox
    signature: WireSignature


@dataclass(frozen=True)
class SignedAddAssociation:
    """A decoded AddAssociation action and its two signatures (not yet verified)."""

    unsigned: UnsignedAddAssociation
    existing_member_signature: WireSignature
    new_member_signature: WireSignature


@dataclass(frozen=True)
class SignedRevokeAssociation:
    """A decoded RevokeAssociation action and its recovery signature (not yet verified)."""

    unsigned: UnsignedRevokeAssociation
    recovery_signature: WireSignature


@dataclass(frozen=True)
class SignedChangeRecoveryAddress:
    """A decoded ChangeRecoveryAddress action and its recovery signature (not yet verified)."""

    unsigned: UnsignedChangeRecoveryAddress
    recovery_signature: WireSignature


SignedAction = SignedCreateInbox | SignedAddAssociation | SignedRevokeAssociation | SignedChangeRecoveryAddress


@dataclass(frozen=True)
class DecodedUpdate:
    """An identity update as plain data, signatures not yet verified."""

    inbox_id: str
    client_timestamp_ns: int
    actions: tuple[SignedAction, ...]

    def text(self) -> str:
        """The text every signature in this update must sign."""
        return signature_text(self.inbox_id, self.client_timestamp_ns, [a.unsigned for a in self.actions])


def _malformed(detail: str) -> AssociationError:
    return AssociationError(Rule.MALFORMED_UPDATE, detail)


# --- decoding ------------------------------------------------------------------------------------------------


def decode_member_identifier(proto: pb.MemberIdentifier) -> MemberIdentifier:
    """A `MemberIdentifier` protobuf as an identifier; `AssociationError(MALFORMED_UPDATE)` if empty."""
    match proto.WhichOneof("kind"):
        case "ethereum_address":
            return EthereumAddress(proto.ethereum_address)
        case "installation_public_key":
            return InstallationKey(proto.installation_public_key)
        case "passkey":
            relying_party = proto.passkey.relying_party if proto.passkey.HasField("relying_party") else None
            return Passkey(proto.passkey.key, relying_party)
    raise _malformed("member identifier has no kind")


def decode_root_identifier(text: str, kind: int, relying_party: str | None) -> RootIdentifier:
    """A CreateInbox/ChangeRecoveryAddress identifier string; kind UNSPECIFIED means Ethereum."""
    if kind in (pb.IDENTIFIER_KIND_UNSPECIFIED, pb.IDENTIFIER_KIND_ETHEREUM):
        return EthereumAddress(text)
    if kind == pb.IDENTIFIER_KIND_PASSKEY:
        # bytes.fromhex would skip whitespace; libxmtp's hex decoder does not.
        if not _HEX.fullmatch(text):
            raise _malformed(f"passkey identifier {text!r} is not hex")
        return Passkey(bytes.fromhex(text), relying_party)
    raise _malformed(f"unknown identifier kind {kind}")


def decode_signature(proto: sig_pb.Signature, has_field: bool = True) -> WireSignature:
    """A `Signature` protobuf as a wire signature; `AssociationError(MALFORMED_UPDATE)` if malformed."""
    if not has_field:
        raise _malformed("signature missing")
    match proto.WhichOneof("signature"):
        case "erc_191":
            return Erc191Signature(proto.erc_191.bytes)
        case "installation_key":
            key = proto.installation_key
            if len(key.public_key) != 32:
                raise _malformed("installation key signature public key must be 32 bytes")
            return InstallationKeySignature(key.bytes, key.public_key)
        case "erc_6492":
            scw = proto.erc_6492
            try:
                AccountId.parse(scw.account_id)
            except InvalidIdentifierError as exc:
                raise _malformed(str(exc)) from exc
            return SmartContractWalletSignature(scw.account_id, scw.block_number, scw.signature)
        case "passkey":
            pk = proto.passkey
            return PasskeySignature(pk.public_key, pk.signature, pk.authenticator_data, pk.client_data_json)
        case "delegated_erc_191":
            return LegacyDelegatedSignature(proto.delegated_erc_191.SerializeToString())
    raise _malformed("signature has no kind")


def _decode_action(proto: pb.IdentityAction) -> SignedAction:
    match proto.WhichOneof("kind"):
        case "create_inbox":
            create = proto.create_inbox
            relying_party = create.relying_party if create.HasField("relying_party") else None
            identifier = decode_root_identifier(
                create.initial_identifier, create.initial_identifier_kind, relying_party
            )
            signature = decode_signature(
                create.initial_identifier_signature, create.HasField("initial_identifier_signature")
            )
            return SignedCreateInbox(UnsignedCreateInbox(identifier, create.nonce), signature)
        case "add":
            add = proto.add
            if not add.HasField("new_member_identifier"):
                raise _malformed("add association without new_member_identifier")
            return SignedAddAssociation(
                UnsignedAddAssociation(decode_member_identifier(add.new_member_identifier)),
                existing_member_signature=decode_signature(
                    add.existing_member_signature, add.HasField("existing_member_signature")
                ),
                new_member_signature=decode_signature(add.new_member_signature, add.HasField("new_member_signature")),
            )
        case "revoke":
            revoke = proto.revoke
            if not revoke.HasField("member_to_revoke"):
                raise _malformed("revoke association without member_to_revoke")
            return SignedRevokeAssociation(
                UnsignedRevokeAssociation(decode_member_identifier(revoke.member_to_revoke)),
                decode_signature(
                    revoke.recovery_identifier_signature, revoke.HasField("recovery_identifier_signature")
                ),
            )
        case "change_recovery_address":
            change = proto.change_recovery_address
            relying_party = change.relying_party if change.HasField("relying_party") else None
            recovery = decode_root_identifier(
                change.new_recovery_identifier, change.new_recovery_identifier_kind, relying_party
            )
            return SignedChangeRecoveryAddress(
                UnsignedChangeRecoveryAddress(recovery),
                decode_signature(
                    change.existing_recovery_identifier_signature,
                    change.HasField("existing_recovery_identifier_signature"),
                ),
            )
    raise _malformed("identity action has no kind")


def decode_update(proto: pb.IdentityUpdate) -> DecodedUpdate:
    """Decode an `IdentityUpdate`; raises `AssociationError(MALFORMED_UPDATE)` on structural problems."""
    return DecodedUpdate(
        proto.inbox_id, proto.client_timestamp_ns, tuple(_decode_action(action) for action in proto.actions)
    )


# --- encoding ------------------------------------------------------------------------------------------------


def encode_member_identifier(identifier: MemberIdentifier) -> pb.MemberIdentifier:
    """The `MemberIdentifier` protobuf of an identifier."""
    match identifier:
        case EthereumAddress(address=address):
            return pb.MemberIdentifier(ethereum_address=address)
        case InstallationKey(public_key=key):
            return pb.MemberIdentifier(installation_public_key=key)
        case Passkey(key=key, relying_party=relying_party):
            return pb.MemberIdentifier(passkey=pb.Passkey(key=key, relying_party=relying_party))


def encode_root_identifier(identifier: RootIdentifier) -> tuple[str, pb.IdentifierKind, str | None]:
    """(identifier string, kind, relying_party) as CreateInbox / ChangeRecoveryAddress carry them."""
    if isinstance(identifier, Passkey):
        return identifier.text(), pb.IDENTIFIER_KIND_PASSKEY, identifier.relying_party
    return identifier.text(), pb.IDENTIFIER_KIND_ETHEREUM, None


def encode_signature(signature: WireSignature) -> sig_pb.Signature:
    """The `Signature` protobuf of a wire signature."""
    match signature:
        case Erc191Signature(signature=raw):
            return sig_pb.Signature(erc_191=sig_pb.RecoverableEcdsaSignature(bytes=raw))
        case InstallationKeySignature(signature=raw, public_key=key):
            return sig_pb.Signature(installation_key=sig_pb.RecoverableEd25519Signature(bytes=raw, public_key=key))
        case SmartContractWalletSignature(account_id=account_id, block_number=block, signature=raw):
            return sig_pb.Signature(
                erc_6492=sig_pb.SmartContractWalletSignature(account_id=account_id, block_number=block, signature=raw)
            )
        case PasskeySignature():
            return sig_pb.Signature(
                passkey=sig_pb.RecoverablePasskeySignature(
                    public_key=signature.public_key,
                    signature=signature.signature,
                    authenticator_data=signature.authenticator_data,
                    client_data_json=signature.client_data_json,
                )
            )
        case LegacyDelegatedSignature(serialized=serialized):
            return sig_pb.Signature(delegated_erc_191=sig_pb.LegacyDelegatedSignature.FromString(serialized))


def _encode_action(action: SignedAction) -> pb.IdentityAction:
    match action:
        case SignedCreateInbox(unsigned=unsigned, signature=signature):
            text, kind, relying_party = encode_root_identifier(unsigned.identifier)
            return pb.IdentityAction(
                create_inbox=pb.CreateInbox(
                    initial_identifier=text,
                    nonce=unsigned.nonce,
                    initial_identifier_signature=encode_signature(signature),
                    initial_identifier_kind=kind,
                    relying_party=relying_party,
                )
            )
        case SignedAddAssociation():
            new_member = action.unsigned.new_member
            return pb.IdentityAction(
                add=pb.AddAssociation(
                    new_member_identifier=encode_member_identifier(new_member),
                    existing_member_signature=encode_signature(action.existing_member_signature),
                    new_member_signature=encode_signature(action.new_member_signature),
                    relying_party=new_member.relying_party if isinstance(new_member, Passkey) else None,
                )
            )
        case SignedRevokeAssociation(unsigned=unsigned, recovery_signature=signature):
            return pb.IdentityAction(
                revoke=pb.RevokeAssociation(
                    member_to_revoke=encode_member_identifier(unsigned.member),
                    recovery_identifier_signature=encode_signature(signature),
                )
            )
        case SignedChangeRecoveryAddress(unsigned=unsigned, recovery_signature=signature):
            text, kind, relying_party = encode_root_identifier(unsigned.new_recovery)
            return pb.IdentityAction(
                change_recovery_address=pb.ChangeRecoveryAddress(
                    new_recovery_identifier=text,
                    existing_recovery_identifier_signature=encode_signature(signature),
                    new_recovery_identifier_kind=kind,
                    relying_party=relying_party,
                )
            )


def encode_update(update: DecodedUpdate) -> pb.IdentityUpdate:
    """The `IdentityUpdate` protobuf of a decoded update (inverse of `decode_update`)."""
    return pb.IdentityUpdate(
        actions=[_encode_action(action) for action in update.actions],
        client_timestamp_ns=update.client_timestamp_ns,
        inbox_id=update.inbox_id,
    )
