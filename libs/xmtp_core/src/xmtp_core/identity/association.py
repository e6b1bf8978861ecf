"""The association state machine of an XMTP inbox (reference §3; libxmtp `association_log.rs`).

An inbox's state is rebuilt by replaying its identity updates from empty, in sequence order. Each update is
decoded, its text rebuilt, *every* signature verified against that one text (smart-contract wallets through
an injected verifier), and then its actions are applied one by one. Any broken rule rejects the whole update
with `AssociationError(rule)`. Only after an update applies are its signatures added to `seen_signatures`, so
one update may reuse a signature (registration does) but no later update may.

Limits: libxmtp's replay does not count installations or updates. The node refuses to append to a log that
already holds 256 updates (`check_can_append`, and `verify_log(max_updates=...)` for whole logs), and libxmtp
clients refuse to register an 11th installation (`max_installations=`, off by default so that replay agrees
with libxmtp; the builder enforces it when given the current state).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from xmtp_core.identity.codec import decode_update
from xmtp_core.identity.errors import AssociationError, Rule
from xmtp_core.identity.identifiers import EthereumAddress, MemberIdentifier, MemberKind, Passkey
from xmtp_core.identity.inbox_id import inbox_id as derive_inbox_id
from xmtp_core.identity.signatures import SignatureKind, SmartContractWalletVerifier, VerifiedSignature
from xmtp_core.identity.state import AssociationState, AssociationStateDiff, Member, diff
from xmtp_core.identity.verification import (
    VerifiedAction,
    VerifiedAddAssociation,
    VerifiedChangeRecoveryAddress,
    VerifiedCreateInbox,
    VerifiedRevokeAssociation,
    VerifiedUpdate,
    verify_update_signatures,
    verify_update_signatures_sync,
)
from xmtp_core.protos.identity.associations import association_pb2 as pb

MAX_INSTALLATIONS_PER_INBOX = 10
"""libxmtp `MAX_INSTALLATIONS_PER_INBOX`: a client will not register an installation beyond this."""

MAX_IDENTITY_UPDATES_PER_INBOX = 256
"""xmtp-node-go refuses to append to an inbox log that already has this many updates."""

_ALLOWED_SIGNATURES: dict[MemberKind, frozenset[SignatureKind]] = {
    MemberKind.ETHEREUM: frozenset({SignatureKind.ERC191, SignatureKind.ERC1271, SignatureKind.LEGACY_DELEGATED}),
    MemberKind.INSTALLATION: frozenset({SignatureKind.INSTALLATION_KEY}),
    MemberKind.PASSKEY: frozenset({SignatureKind.P256}),
}


# --- rules ---------------------------------------------------------------------------------------------------


def _require_signature_kind(role: MemberKind, signature: VerifiedSignature) -> None:
    if signature.kind not in _ALLOWED_SIGNATURES[role]:
        raise AssociationError(Rule.SIGNATURE_KIND_NOT_ALLOWED, f"a {role} cannot sign with {signature.kind}")


def _require_chain_id(member: Member | None, signature: VerifiedSignature) -> None:
    # A smart-contract wallet must keep signing on the chain it was added on (EOAs: both None).
    if member is not None and member.added_on_chain_id != signature.chain_id:
        raise AssociationError(
            Rule.CHAIN_ID_MISMATCH, f"added on chain {member.added_on_chain_id}, now signing on {signature.chain_id}"
        )


def _require_unseen(state: AssociationState, signatures: Iterable[VerifiedSignature]) -> None:
    if any(state.has_seen(sig.raw_bytes) for sig in signatures):
        raise AssociationError(Rule.REPLAY, "a signature in this action was already used by an earlier update")


def _require_state(state: AssociationState | None) -> AssociationState:
    if state is None:
        raise AssociationError(Rule.NOT_CREATED, "the inbox has no CreateInbox yet")
    return state


def _no_legacy(signature: VerifiedSignature) -> None:
    if signature.kind == SignatureKind.LEGACY_DELEGATED:
        raise AssociationError(Rule.LEGACY_SIGNATURE, "the recovery identifier needs a real wallet signature")


def _create(state: AssociationState | None, action: VerifiedCreateInbox) -> AssociationState:
    if state is not None:
        raise AssociationError(Rule.MULTIPLE_CREATE, "CreateInbox on an inbox that already exists")
    identifier, signature = action.unsigned.identifier, action.signature
    if signature.signer != identifier:
        raise AssociationError(Rule.CREATE_SIGNER_MISMATCH, f"signed by {signature.signer.text()}, not the owner")
    _require_signature_kind(identifier.kind, signature)
    if signature.kind == SignatureKind.LEGACY_DELEGATED and action.unsigned.nonce != 0:
        raise AssociationError(Rule.LEGACY_SIGNATURE, "a legacy key may only create the nonce-0 inbox")
    new_inbox_id = derive_inbox_id(identifier, action.unsigned.nonce)
    owner = Member(identifier, added_on_chain_id=signature.chain_id)
    return AssociationState(new_inbox_id, {identifier: owner}, identifier)


def _add(state: AssociationState | None, action: VerifiedAddAssociation, timestamp_ns: int) -> AssociationState:
    state = _require_state(state)
    existing_sig, new_sig = action.existing_member_signature, action.new_member_signature
    _require_unseen(state, (existing_sig, new_sig))
    if new_sig.signer != action.unsigned.new_member:
        raise AssociationError(Rule.NEW_MEMBER_SIGNATURE_MISMATCH, "the new member's signature is someone else's")
    if new_sig.signer == existing_sig.signer:
        raise AssociationError(Rule.ADD_SELF, "a member cannot add itself")
    if SignatureKind.LEGACY_DELEGATED in (existing_sig.kind, new_sig.kind):
        _require_nonce_zero_inbox(state, existing_sig.signer)
    _require_signature_kind(action.unsigned.new_member.kind, new_sig)
    existing = state.get(existing_sig.signer)
    _require_chain_id(existing, existing_sig)
    if existing is not None:
        adder = existing.identifier
    elif existing_sig.signer == state.recovery_identifier:
        _no_legacy(existing_sig)
        adder = state.recovery_identifier
    else:
        raise AssociationError(Rule.NOT_A_MEMBER, f"{existing_sig.signer.text()} is neither a member nor recovery")
    _require_signature_kind(adder.kind, existing_sig)
    if (
        existing_sig.signer.kind == MemberKind.INSTALLATION
        and action.unsigned.new_member.kind == MemberKind.INSTALLATION
    ):
        raise AssociationError(Rule.INSTALLATION_ADDS_INSTALLATION, "an installation may not add an installation")
    member = Member(new_sig.signer, adder, timestamp_ns, new_sig.chain_id)
    return replace(state, members={**state.members, member.identifier: member})


def _require_nonce_zero_inbox(state: AssociationState, signer: MemberIdentifier) -> None:
    if isinstance(signer, EthereumAddress | Passkey) and state.inbox_id != derive_inbox_id(signer, 0):
        raise AssociationError(Rule.LEGACY_SIGNATURE, "legacy signatures are only valid on the nonce-0 inbox")


def _require_recovery_signature(state: AssociationState, signature: VerifiedSignature, what: str) -> None:
    # Revocation and recovery changes share one rule set (libxmtp checks them in this order): unused, on the
    # chain the signer was added on, not a legacy key, and by the current recovery identifier.
    _require_unseen(state, (signature,))
    _require_chain_id(state.get(signature.signer), signature)
    if signature.kind == SignatureKind.LEGACY_DELEGATED:
        raise AssociationError(Rule.SIGNATURE_KIND_NOT_ALLOWED, f"a legacy key cannot sign to {what}")
    if signature.signer != state.recovery_identifier:
        raise AssociationError(Rule.NOT_RECOVERY_IDENTIFIER, f"only the recovery identifier may {what}")


def _revoke(state: AssociationState | None, action: VerifiedRevokeAssociation) -> AssociationState:
    state = _require_state(state)
    _require_recovery_signature(state, action.recovery_signature, "revoke")
    revoked = action.unsigned.member
    # Revoking a wallet also removes the installations it added (one level deep), not other wallets.
    children = {
        m.identifier for m in state.members.values() if m.added_by == revoked and m.kind == MemberKind.INSTALLATION
    }
    remaining = {k: v for k, v in state.members.items() if k != revoked and k not in children}
    return replace(state, members=remaining)


def _change_recovery(state: AssociationState | None, action: VerifiedChangeRecoveryAddress) -> AssociationState:
    state = _require_state(state)
    _require_recovery_signature(state, action.recovery_signature, "change the recovery identifier")
    return replace(state, recovery_identifier=action.unsigned.new_recovery)


def _apply_action(state: AssociationState | None, action: VerifiedAction, timestamp_ns: int) -> AssociationState:
    match action:
        case VerifiedCreateInbox():
            return _create(state, action)
        case VerifiedAddAssociation():
            return _add(state, action, timestamp_ns)
        case VerifiedRevokeAssociation():
            return _revoke(state, action)
        case VerifiedChangeRecoveryAddress():
            return _change_recovery(state, action)


def apply_verified_update(
    state: AssociationState | None, update: VerifiedUpdate, *, max_installations: int | None = None
) -> AssociationState:
    """Apply an update whose signatures are verified. `state=None` means the inbox does not exist yet."""
    current = state
    for action in update.actions:
        current = _apply_action(current, action, update.client_timestamp_ns)
    current = _require_state(current)
    if current.inbox_id != update.inbox_id:
        raise AssociationError(Rule.WRONG_INBOX_ID, f"update names {update.inbox_id}, state is {current.inbox_id}")
    if max_installations is not None:
        _check_installation_limit(state, current, max_installations)
    return replace(current, seen_signatures=current.seen_signatures | frozenset(update.signatures()))


def _check_installation_limit(before: AssociationState | None, after: AssociationState, limit: int) -> None:
    count_before = len(before.installation_keys()) if before is not None else 0
    count_after = len(after.installation_keys())
    if count_after > limit and count_after > count_before:
        raise AssociationError(Rule.TOO_MANY_INSTALLATIONS, f"{count_after} installations, limit {limit}")


# --- public entry points ---------------------------------------------------------------------------------------


def check_can_append(log_length: int, max_updates: int = MAX_IDENTITY_UPDATES_PER_INBOX) -> None:
    """The node's rule before appending: refuse when the inbox log already holds `max_updates` updates."""
    if log_length >= max_updates:
        raise AssociationError(Rule.TOO_MANY_UPDATES, f"inbox log already has {log_length} updates (max {max_updates})")


async def apply_update(
    state: AssociationState | None,
    update: pb.IdentityUpdate,
    *,
    scw_verifier: SmartContractWalletVerifier | None = None,
    max_installations: int | None = None,
) -> AssociationState:
    """Verify `update` (every signature against its rebuilt text) and apply it to `state` (None = empty)."""
    verified = await verify_update_signatures(decode_update(update), scw_verifier)
    return apply_verified_update(state, verified, max_installations=max_installations)


def apply_update_sync(
    state: AssociationState | None, update: pb.IdentityUpdate, *, max_installations: int | None = None
) -> AssociationState:
    """`apply_update` without smart-contract wallet support (raises SCW_VERIFIER_REQUIRED if one appears)."""
    verified = verify_update_signatures_sync(decode_update(update))
    return apply_verified_update(state, verified, max_installations=max_installations)


def _check_log_length(count: int, max_updates: int | None) -> None:
    if max_updates is not None and count > max_updates:
        raise AssociationError(Rule.TOO_MANY_UPDATES, f"log has {count} updates (max {max_updates})")


async def verify_log(
    updates: Iterable[pb.IdentityUpdate],
    *,
    scw_verifier: SmartContractWalletVerifier | None = None,
    max_updates: int | None = MAX_IDENTITY_UPDATES_PER_INBOX,
    max_installations: int | None = None,
) -> AssociationState:
    """Replay a whole inbox log (already in sequence order) from empty; any invalid update fails it all."""
    ordered = list(updates)
    _check_log_length(len(ordered), max_updates)
    state: AssociationState | None = None
    for update in ordered:
        state = await apply_update(state, update, scw_verifier=scw_verifier, max_installations=max_installations)
    return _require_state(state)


def verify_log_sync(
    updates: Iterable[pb.IdentityUpdate],
    *,
    max_updates: int | None = MAX_IDENTITY_UPDATES_PER_INBOX,
    max_installations: int | None = None,
) -> AssociationState:
    """`verify_log` without smart-contract wallet support."""
    ordered = list(updates)
    _check_log_length(len(ordered), max_updates)
    state: AssociationState | None = None
    for update in ordered:
        state = apply_update_sync(state, update, max_installations=max_installations)
    return _require_state(state)


@dataclass(frozen=True)
class Appended:
    """The inbox before (None for a new inbox) and after a valid update, as a node needs for its indexes."""

    previous: AssociationState | None
    state: AssociationState

    @property
    def diff(self) -> AssociationStateDiff:
        """The members added and removed by the update."""
        return diff(self.previous, self.state)


async def validate_append(
    existing: Sequence[pb.IdentityUpdate],
    update: pb.IdentityUpdate,
    *,
    scw_verifier: SmartContractWalletVerifier | None = None,
    max_installations: int | None = None,
) -> Appended:
    """A node's PublishIdentityUpdate check: log length limit, replay of the existing log, then the update."""
    check_can_append(len(existing))
    previous = await verify_log(existing, scw_verifier=scw_verifier, max_updates=None) if existing else None
    state = await apply_update(previous, update, scw_verifier=scw_verifier, max_installations=max_installations)
    return Appended(previous, state)


def validate_append_sync(
    existing: Sequence[pb.IdentityUpdate], update: pb.IdentityUpdate, *, max_installations: int | None = None
) -> Appended:
    """`validate_append` without smart-contract wallet support (raises SCW_VERIFIER_REQUIRED if one appears)."""
    check_can_append(len(existing))
    previous = verify_log_sync(existing, max_updates=None) if existing else None
    return Appended(previous, apply_update_sync(previous, update, max_installations=max_installations))


class IdentityUpdateLogEntry(Protocol):
    """Shape of `GetIdentityUpdatesResponse.IdentityUpdateLog` (or a stored row with the same fields)."""

    @property
    def sequence_id(self) -> int:
        """The node's sequence id of the entry."""

    @property
    def update(self) -> pb.IdentityUpdate:
        """The identity update."""


async def verify_log_entries(
    entries: Iterable[IdentityUpdateLogEntry],
    *,
    up_to_sequence_id: int | None = None,
    scw_verifier: SmartContractWalletVerifier | None = None,
    max_updates: int | None = MAX_IDENTITY_UPDATES_PER_INBOX,
) -> AssociationState:
    """The state at `up_to_sequence_id` (default: latest): entries sorted by sequence id, later ones ignored."""
    chosen = sorted(
        (e for e in entries if up_to_sequence_id is None or e.sequence_id <= up_to_sequence_id),
        key=lambda e: e.sequence_id,
    )
    return await verify_log([e.update for e in chosen], scw_verifier=scw_verifier, max_updates=max_updates)
