"""Identity checks of the node: which identity updates PublishIdentityUpdate appends, and which installations
may upload key packages for an inbox.

Updates are verified with `xmtp_core.identity`, as xmtp-node-go does through GetAssociationState: the inbox's
state (a cached snapshot plus any log entries after it, or the whole log replayed from empty) is rebuilt and
the new update applied with every signature checked. A broken rule becomes `IdentityRefused`, whose message
starts with the `Rule` value. The state after the update, and its diff against the state before, feed
address_log, the installation index and key-package serving; none of this touches the database.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError
from xmtp_core.identity import (
    MAX_INSTALLATIONS_PER_INBOX,
    AssociationError,
    AssociationState,
    EthereumAddress,
    IdentityError,
    Passkey,
    RootIdentifier,
    Rule,
    apply_update_sync,
    check_can_append,
    diff,
)
from xmtp_core.protos.identity.associations import association_pb2 as assoc

from devnode.errors import InvalidInput
from devnode.models import AcceptedUpdate, AddressChange, InboxSnapshot, InstallationStanding

KIND_ETHEREUM = assoc.IDENTIFIER_KIND_ETHEREUM
KIND_PASSKEY = assoc.IDENTIFIER_KIND_PASSKEY
_NO_CHAIN = "devnode has no chain access and refuses smart-contract-wallet (ERC-1271) signatures"


class IdentityRefused(InvalidInput):
    """An identity update (or a key package's claim of membership) broke an association rule."""

    def __init__(self, rule: Rule | str, detail: str) -> None:
        self.rule = str(rule)
        super().__init__(f"{self.rule}: {detail}")


class StoredLogInvalid(InvalidInput):
    """The inbox's stored log does not verify (written before devnode verified updates, or tampered with)."""


def normalize_kind(kind: int) -> int:
    """UNSPECIFIED means Ethereum on the wire (libxmtp's default)."""
    return KIND_ETHEREUM if kind == assoc.IDENTIFIER_KIND_UNSPECIFIED else kind


def normalize_identifier(identifier: str, kind: int) -> str:
    """The form address_log stores and looks up: Ethereum addresses and passkey hex are lowercased."""
    return identifier.strip().lower()


def _index_key(identifier: RootIdentifier) -> tuple[str, int]:
    if isinstance(identifier, EthereumAddress):
        return normalize_identifier(identifier.address, KIND_ETHEREUM), KIND_ETHEREUM
    if isinstance(identifier, Passkey):
        return identifier.key.hex(), KIND_PASSKEY
    raise AssertionError(f"not a root identifier: {identifier!r}")


def _refused(exc: AssociationError) -> IdentityRefused:
    if exc.rule == Rule.SCW_VERIFIER_REQUIRED:
        return IdentityRefused(exc.rule, _NO_CHAIN)
    return IdentityRefused(exc.rule, exc.detail)


def _parse_update(raw: bytes) -> assoc.IdentityUpdate:
    try:
        return assoc.IdentityUpdate.FromString(raw)
    except DecodeError as exc:
        raise StoredLogInvalid(f"a stored identity update does not parse: {exc}") from exc


def current_state(snapshot: InboxSnapshot) -> AssociationState | None:
    """The inbox's verified state after its whole stored log (None: the inbox has no log yet)."""
    try:
        state = None
        if snapshot.state is not None:
            state = AssociationState.from_proto(assoc.AssociationState.FromString(snapshot.state))
        for raw in snapshot.tail:
            # No installation limit on replay: libxmtp's replay has none, and the log was accepted already.
            state = apply_update_sync(state, _parse_update(raw))
    except (IdentityError, DecodeError) as exc:
        raise StoredLogInvalid(f"the stored identity log of this inbox does not verify: {exc}") from exc
    return state


def check_update(snapshot: InboxSnapshot, update: assoc.IdentityUpdate) -> AcceptedUpdate:
    """PublishIdentityUpdate's decision: refuse (`IdentityRefused`) or return what appending `update` changes.

    Rules: at most 256 log entries (`too_many_identity_updates`), at least one action, every signature valid
    and unused by earlier updates, every association rule of `xmtp_core.identity`, at most 10 installations
    after the update (`too_many_installations`), and no smart-contract-wallet signatures (no chain to ask).
    """
    try:
        check_can_append(snapshot.log_length)
    except AssociationError as exc:
        raise _refused(exc) from exc
    if not update.actions:
        # Signature-free, yet it would take one of the inbox's 256 log slots: anyone could fill a log.
        raise IdentityRefused(Rule.MALFORMED_UPDATE, "the update has no actions")
    previous = current_state(snapshot)
    try:
        state = apply_update_sync(previous, update, max_installations=MAX_INSTALLATIONS_PER_INBOX)
    except AssociationError as exc:
        raise _refused(exc) from exc
    except IdentityError as exc:
        raise IdentityRefused(Rule.MALFORMED_UPDATE, str(exc)) from exc
    changes = diff(previous, state)
    address_changes = [AddressChange(*_index_key(i), added=True) for i in changes.new_identifiers]
    address_changes += [AddressChange(*_index_key(i), added=False) for i in changes.removed_identifiers]
    return AcceptedUpdate(
        address_changes, state.installation_keys(), changes.removed_installations, state.to_proto().SerializeToString()
    )


def check_key_package_upload(standing: InstallationStanding, inbox_id: str, installation_key: bytes) -> None:
    """UploadKeyPackage refuses only an installation that its inbox has revoked.

    A non-member is let in because libxmtp uploads an installation's first key package BEFORE it publishes
    the update that adds the installation (new inbox or new installation alike); FetchKeyPackages withholds
    such a key package until the installation is a current member (see `Store.fetch_key_packages`).
    """
    if standing == InstallationStanding.REVOKED:
        raise IdentityRefused(
            "installation_revoked", f"installation {installation_key.hex()} was revoked from inbox {inbox_id}"
        )
