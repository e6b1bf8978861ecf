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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from xmtp_core.identity.codec import (
    DecodedUpdate,
    SignedAction,
    SignedAddAssociation,
    SignedChangeRecoveryAddress,
    SignedCreateInbox,
    SignedRevokeAssociation,
    decode_member_identifier,
    decode_root_identifier,
    decode_update,
    encode_member_identifier,
    encode_root_identifier,
)
from xmtp_core.identity.errors import AssociationError, Rule, ScwVerifierRequiredError, SignatureVerificationError
from xmtp_core.identity.identifiers import (
    EthereumAddress,
    InstallationKey,
    MemberIdentifier,
    MemberKind,
    Passkey,
    RootIdentifier,
)
from xmtp_core.identity.inbox_id import inbox_id as derive_inbox_id
from xmtp_core.identity.signature_text import (
    UnsignedAddAssociation,
    UnsignedChangeRecoveryAddress,
    UnsignedCreateInbox,
    UnsignedRevokeAssociation,
)
from xmtp_core.identity.signatures import (
    SignatureKind,
    SmartContractWalletVerifier,
    VerifiedSignature,
    WireSignature,
    verify_signature,
    verify_signature_sync,
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


# --- state ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A member of an inbox and who added it (None for the creating identifier)."""

    identifier: MemberIdentifier
    added_by: MemberIdentifier | None = None
    client_timestamp_ns: int | None = None
    added_on_chain_id: int | None = None

    @property
    def kind(self) -> MemberKind:
        return self.identifier.kind


@dataclass(frozen=True)
class AssociationState:
    """An inbox at one point of its log. Immutable: every transition returns a new state."""

    inbox_id: str
    members: Mapping[MemberIdentifier, Member]
    recovery_identifier: RootIdentifier
    seen_signatures: frozenset[bytes] = field(default_factory=frozenset)

    def get(self, identifier: MemberIdentifier) -> Member | None:
        return self.members.get(identifier)

    def has_seen(self, signature: bytes) -> bool:
        return signature in self.seen_signatures

    def members_by_kind(self, kind: MemberKind) -> list[Member]:
        # Oldest first, creator (no timestamp) last, as libxmtp orders them.
        chosen = [m for m in self.members.values() if m.kind == kind]
        return sorted(chosen, key=lambda m: m.client_timestamp_ns if m.client_timestamp_ns is not None else 2**64)

    def installation_keys(self) -> list[bytes]:
        """Public keys of the installations (the MLS leaf signature keys the inbox may use)."""
        members = self.members_by_kind(MemberKind.INSTALLATION)
        return [m.identifier.public_key for m in members if isinstance(m.identifier, InstallationKey)]

    def has_installation(self, public_key: bytes) -> bool:
        return InstallationKey(public_key) in self.members

    def identifiers(self) -> list[RootIdentifier]:
        """Wallets and passkeys linked to the inbox."""
        return [m.identifier for m in self.members.values() if isinstance(m.identifier, EthereumAddress | Passkey)]

    def to_proto(self) -> pb.AssociationState:
        """The `AssociationState` protobuf (members in a stable order)."""
        text, kind, relying_party = encode_root_identifier(self.recovery_identifier)
        return pb.AssociationState(
            inbox_id=self.inbox_id,
            members=[
                pb.MemberMap(key=encode_member_identifier(m.identifier), value=_member_proto(m))
                for m in self._ordered()
            ],
            recovery_identifier=text,
            seen_signatures=sorted(self.seen_signatures),
            recovery_identifier_kind=kind,
            relying_party=relying_party,
        )

    @classmethod
    def from_proto(cls, proto: pb.AssociationState) -> AssociationState:
        """Rebuild a state saved with `to_proto` (e.g. a cache keyed by inbox id and sequence id)."""
        relying_party = proto.relying_party if proto.HasField("relying_party") else None
        members = {}
        for entry in proto.members:
            value = entry.value
            member = Member(
                decode_member_identifier(value.identifier),
                decode_member_identifier(value.added_by_entity) if value.HasField("added_by_entity") else None,
                value.client_timestamp_ns if value.HasField("client_timestamp_ns") else None,
                value.added_on_chain_id if value.HasField("added_on_chain_id") else None,
            )
            members[member.identifier] = member
        recovery = decode_root_identifier(proto.recovery_identifier, proto.recovery_identifier_kind, relying_party)
        return cls(proto.inbox_id, members, recovery, frozenset(proto.seen_signatures))

    def _ordered(self) -> list[Member]:
        return sorted(self.members.values(), key=lambda m: (m.kind.value, m.identifier.text()))


def _member_map(member: Member) -> pb.MemberMap:
    return pb.MemberMap(key=encode_member_identifier(member.identifier), value=_member_proto(member))


def _member_proto(member: Member) -> pb.Member:
    return pb.Member(
        identifier=encode_member_identifier(member.identifier),
        added_by_entity=encode_member_identifier(member.added_by) if member.added_by is not None else None,
        client_timestamp_ns=member.client_timestamp_ns,
        added_on_chain_id=member.added_on_chain_id,
    )


@dataclass(frozen=True)
class AssociationStateDiff:
    """Members that appear in / disappear from an inbox between two states."""

    new_members: tuple[MemberIdentifier, ...]
    removed_members: tuple[MemberIdentifier, ...]

    @property
    def new_installations(self) -> list[bytes]:
        return [m.public_key for m in self.new_members if isinstance(m, InstallationKey)]

    @property
    def removed_installations(self) -> list[bytes]:
        return [m.public_key for m in self.removed_members if isinstance(m, InstallationKey)]

    @property
    def new_identifiers(self) -> list[RootIdentifier]:
        """Wallets and passkeys that joined (what a node's identifier -> inbox index must add)."""
        return [m for m in self.new_members if isinstance(m, EthereumAddress | Passkey)]

    @property
    def removed_identifiers(self) -> list[RootIdentifier]:
        return [m for m in self.removed_members if isinstance(m, EthereumAddress | Passkey)]

    def to_proto(self) -> pb.AssociationStateDiff:
        return pb.AssociationStateDiff(
            new_members=[encode_member_identifier(m) for m in self.new_members],
            removed_members=[encode_member_identifier(m) for m in self.removed_members],
        )


def diff(old: AssociationState | None, new: AssociationState) -> AssociationStateDiff:
    """What changed from `old` (None = nothing yet) to `new`; used for group membership checks."""
    before = old.members if old is not None else {}
    added = tuple(m.identifier for m in new._ordered() if m.identifier not in before)
    removed = tuple(m.identifier for m in old._ordered() if m.identifier not in new.members) if old else ()
    return AssociationStateDiff(added, removed)


# --- verified updates ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifiedCreateInbox:
    unsigned: UnsignedCreateInbox
    signature: VerifiedSignature


@dataclass(frozen=True)
class VerifiedAddAssociation:
    unsigned: UnsignedAddAssociation
    existing_member_signature: VerifiedSignature
    new_member_signature: VerifiedSignature


@dataclass(frozen=True)
class VerifiedRevokeAssociation:
    unsigned: UnsignedRevokeAssociation
    recovery_signature: VerifiedSignature


@dataclass(frozen=True)
class VerifiedChangeRecoveryAddress:
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


def _revoke(state: AssociationState | None, action: VerifiedRevokeAssociation) -> AssociationState:
    state = _require_state(state)
    signature = action.recovery_signature
    _require_unseen(state, (signature,))
    _require_chain_id(state.get(signature.signer), signature)
    if signature.kind == SignatureKind.LEGACY_DELEGATED:
        raise AssociationError(Rule.SIGNATURE_KIND_NOT_ALLOWED, "revocation cannot be signed by a legacy key")
    if signature.signer != state.recovery_identifier:
        raise AssociationError(Rule.NOT_RECOVERY_IDENTIFIER, "only the recovery identifier may revoke")
    revoked = action.unsigned.member
    # Revoking a wallet also removes the installations it added (one level deep), not other wallets.
    children = {
        m.identifier for m in state.members.values() if m.added_by == revoked and m.kind == MemberKind.INSTALLATION
    }
    remaining = {k: v for k, v in state.members.items() if k != revoked and k not in children}
    return replace(state, members=remaining)


def _change_recovery(state: AssociationState | None, action: VerifiedChangeRecoveryAddress) -> AssociationState:
    state = _require_state(state)
    signature = action.recovery_signature
    _require_unseen(state, (signature,))
    _require_chain_id(state.get(signature.signer), signature)
    if signature.kind == SignatureKind.LEGACY_DELEGATED:
        raise AssociationError(Rule.SIGNATURE_KIND_NOT_ALLOWED, "recovery change cannot be signed by a legacy key")
    if signature.signer != state.recovery_identifier:
        raise AssociationError(Rule.NOT_RECOVERY_IDENTIFIER, "only the recovery identifier may change recovery")
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
    def sequence_id(self) -> int: ...

    @property
    def update(self) -> pb.IdentityUpdate: ...


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
