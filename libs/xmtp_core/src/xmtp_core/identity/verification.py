"""Verifying every signature of an identity update against the update's one rebuilt text.

The result, a `VerifiedUpdate`, names the proven signer of each signature; the state machine then only
applies rules to signers. As in libxmtp, all signatures are verified before any rule is checked, so a
tampered text shows up as `INVALID_SIGNATURE` (Ed25519/P-256/SCW) or as a wrong recovered signer (ECDSA).
"""

from __future__ import annotations

from dataclasses import dataclass

from xmtp_core.identity.codec import (
    DecodedUpdate,
    SignedAction,
    SignedAddAssociation,
    SignedChangeRecoveryAddress,
    SignedCreateInbox,
    SignedRevokeAssociation,
)
from xmtp_core.identity.errors import AssociationError, Rule, ScwVerifierRequiredError, SignatureVerificationError
from xmtp_core.identity.signature_text import (
    UnsignedAddAssociation,
    UnsignedChangeRecoveryAddress,
    UnsignedCreateInbox,
    UnsignedRevokeAssociation,
)
from xmtp_core.identity.signatures import (
    SmartContractWalletVerifier,
    VerifiedSignature,
    WireSignature,
    verify_signature,
    verify_signature_sync,
)


@dataclass(frozen=True)
class VerifiedCreateInbox:
    """A CreateInbox whose signature verified, with the recovered signer."""

    unsigned: UnsignedCreateInbox
    signature: VerifiedSignature


@dataclass(frozen=True)
class VerifiedAddAssociation:
    """An AddAssociation whose two signatures verified, with the recovered signers."""

    unsigned: UnsignedAddAssociation
    existing_member_signature: VerifiedSignature
    new_member_signature: VerifiedSignature


@dataclass(frozen=True)
class VerifiedRevokeAssociation:
    """A RevokeAssociation whose recovery signature verified."""

    unsigned: UnsignedRevokeAssociation
    recovery_signature: VerifiedSignature


@dataclass(frozen=True)
class VerifiedChangeRecoveryAddress:
    """A ChangeRecoveryAddress whose recovery signature verified."""

    unsigned: UnsignedChangeRecoveryAddress
    recovery_signature: VerifiedSignature


VerifiedAction = (
    VerifiedCreateInbox | VerifiedAddAssociation | VerifiedRevokeAssociation | VerifiedChangeRecoveryAddress
)


@dataclass(frozen=True)
class VerifiedUpdate:
    """An update whose every signature checked out against its text; the signers are known."""

    inbox_id: str
    client_timestamp_ns: int
    actions: tuple[VerifiedAction, ...]

    def signatures(self) -> list[bytes]:
        """The replay keys of every signature in the update (what `seen_signatures` records)."""
        return [sig.raw_bytes for action in self.actions for sig in _action_signatures(action)]


def _action_signatures(action: VerifiedAction) -> list[VerifiedSignature]:
    match action:
        case VerifiedCreateInbox(signature=signature):
            return [signature]
        case VerifiedAddAssociation():
            return [action.existing_member_signature, action.new_member_signature]
        case (
            VerifiedRevokeAssociation(recovery_signature=signature)
            | VerifiedChangeRecoveryAddress(recovery_signature=signature)
        ):
            return [signature]


def _wire_signatures(action: SignedAction) -> list[WireSignature]:
    match action:
        case SignedCreateInbox(signature=signature):
            return [signature]
        case SignedAddAssociation():
            return [action.existing_member_signature, action.new_member_signature]
        case (
            SignedRevokeAssociation(recovery_signature=signature)
            | SignedChangeRecoveryAddress(recovery_signature=signature)
        ):
            return [signature]


def _assemble(action: SignedAction, verified: list[VerifiedSignature]) -> VerifiedAction:
    match action:
        case SignedCreateInbox(unsigned=unsigned):
            return VerifiedCreateInbox(unsigned, verified[0])
        case SignedAddAssociation(unsigned=unsigned):
            return VerifiedAddAssociation(unsigned, verified[0], verified[1])
        case SignedRevokeAssociation(unsigned=unsigned):
            return VerifiedRevokeAssociation(unsigned, verified[0])
        case SignedChangeRecoveryAddress(unsigned=unsigned):
            return VerifiedChangeRecoveryAddress(unsigned, verified[0])


def _signature_failure(exc: SignatureVerificationError) -> AssociationError:
    if isinstance(exc, ScwVerifierRequiredError):
        return AssociationError(Rule.SCW_VERIFIER_REQUIRED, str(exc))
    return AssociationError(Rule.INVALID_SIGNATURE, str(exc))


def verify_update_signatures_sync(update: DecodedUpdate) -> VerifiedUpdate:
    """Verify every signature of `update` (no smart-contract wallets: those need the async path)."""
    text = update.text()
    actions: list[VerifiedAction] = []
    for action in update.actions:
        verified = []
        for signature in _wire_signatures(action):
            try:
                verified.append(verify_signature_sync(text, signature))
            except SignatureVerificationError as exc:
                raise _signature_failure(exc) from exc
        actions.append(_assemble(action, verified))
    return VerifiedUpdate(update.inbox_id, update.client_timestamp_ns, tuple(actions))


async def verify_update_signatures(
    update: DecodedUpdate, scw_verifier: SmartContractWalletVerifier | None = None
) -> VerifiedUpdate:
    """Verify every signature of `update`, asking `scw_verifier` about smart-contract wallet signatures."""
    text = update.text()
    actions: list[VerifiedAction] = []
    for action in update.actions:
        verified = []
        for signature in _wire_signatures(action):
            try:
                verified.append(await verify_signature(text, signature, scw_verifier))
            except SignatureVerificationError as exc:
                raise _signature_failure(exc) from exc
        actions.append(_assemble(action, verified))
    return VerifiedUpdate(update.inbox_id, update.client_timestamp_ns, tuple(actions))
