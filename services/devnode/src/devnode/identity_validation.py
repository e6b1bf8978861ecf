"""The seam where PublishIdentityUpdate decides whether an update may be appended to an inbox log.

For now this checks structure and inbox ids only and TRUSTS every signature. Full association-state
replay with signature verification (what xmtp-node-go does through GetAssociationState) plugs in here
later, with the same signature: existing log in, address changes out, an `InvalidInput` to reject.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from xmtp_core.protos.identity.associations import association_pb2 as assoc
from xmtp_core.protos.identity.associations import signature_pb2 as sig

from devnode.errors import InvalidInput
from devnode.models import AddressChange

KIND_ETHEREUM = assoc.IDENTIFIER_KIND_ETHEREUM
KIND_PASSKEY = assoc.IDENTIFIER_KIND_PASSKEY
_INBOX_ID = re.compile(r"[0-9a-f]{64}")
_ETH_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def normalize_kind(kind: int) -> int:
    """UNSPECIFIED means Ethereum on the wire (libxmtp's default)."""
    return KIND_ETHEREUM if kind == assoc.IDENTIFIER_KIND_UNSPECIFIED else kind


def normalize_identifier(identifier: str, kind: int) -> str:
    """The form address_log stores and looks up: Ethereum addresses and passkey hex are lowercased."""
    return identifier.strip().lower()


def _require_signature(signature: sig.Signature, what: str) -> None:
    if signature.WhichOneof("signature") is None:
        raise InvalidInput(f"identity update: {what} is missing")


def _member(identifier: assoc.MemberIdentifier, what: str) -> AddressChange | None:
    """The address_log entry a member identifier maps to (installations have none)."""
    kind = identifier.WhichOneof("kind")
    if kind == "ethereum_address":
        if not _ETH_ADDRESS.fullmatch(identifier.ethereum_address):
            raise InvalidInput(f"identity update: {what} is not an Ethereum address")
        return AddressChange(identifier.ethereum_address.lower(), KIND_ETHEREUM, added=True)
    if kind == "passkey":
        if not identifier.passkey.key:
            raise InvalidInput(f"identity update: {what} has an empty passkey")
        return AddressChange(identifier.passkey.key.hex(), KIND_PASSKEY, added=True)
    if kind == "installation_public_key":
        if len(identifier.installation_public_key) != 32:
            raise InvalidInput(f"identity update: {what} installation key must be 32 bytes")
        return None
    raise InvalidInput(f"identity update: {what} has no identifier")


def _create_inbox(action: assoc.CreateInbox, inbox_id: str) -> AddressChange:
    kind = normalize_kind(action.initial_identifier_kind)
    if kind == KIND_ETHEREUM and not _ETH_ADDRESS.fullmatch(action.initial_identifier):
        raise InvalidInput("identity update: create_inbox initial_identifier is not an Ethereum address")
    if kind not in (KIND_ETHEREUM, KIND_PASSKEY) or not action.initial_identifier:
        raise InvalidInput("identity update: create_inbox has no usable initial identifier")
    _require_signature(action.initial_identifier_signature, "create_inbox signature")
    # libxmtp: inbox_id = sha256(identifier ‖ decimal nonce), over the identifier exactly as sent.
    expected = hashlib.sha256(f"{action.initial_identifier}{action.nonce}".encode()).hexdigest()
    if expected != inbox_id:
        raise InvalidInput("identity update: inbox_id does not match create_inbox identifier and nonce")
    return AddressChange(normalize_identifier(action.initial_identifier, kind), kind, added=True)


def _action_changes(action: assoc.IdentityAction, inbox_id: str) -> list[AddressChange]:
    kind = action.WhichOneof("kind")
    if kind == "create_inbox":
        return [_create_inbox(action.create_inbox, inbox_id)]
    if kind == "add":
        _require_signature(action.add.existing_member_signature, "add existing_member_signature")
        _require_signature(action.add.new_member_signature, "add new_member_signature")
        added = _member(action.add.new_member_identifier, "add new_member_identifier")
        return [added] if added else []
    if kind == "revoke":
        _require_signature(action.revoke.recovery_identifier_signature, "revoke recovery_identifier_signature")
        revoked = _member(action.revoke.member_to_revoke, "revoke member_to_revoke")
        return [AddressChange(revoked.identifier, revoked.kind, added=False)] if revoked else []
    if kind == "change_recovery_address":
        change = action.change_recovery_address
        if not change.new_recovery_identifier:
            raise InvalidInput("identity update: change_recovery_address has no new identifier")
        _require_signature(change.existing_recovery_identifier_signature, "change_recovery_address signature")
        return []
    raise InvalidInput("identity update: action with no kind set")


def validate_update(
    existing_log: Sequence[assoc.IdentityUpdate], new_update: assoc.IdentityUpdate
) -> list[AddressChange]:
    """Reject a structurally invalid update; return the address associations it adds and revokes.

    Checks: inbox_id format and agreement with the log, create_inbox exactly first in a new inbox and
    never again, inbox_id = sha256(identifier ‖ nonce), every action kind / member / signature present.
    Does NOT verify signatures, membership, recovery-address authority or installation limits.
    """
    inbox_id = new_update.inbox_id
    if not _INBOX_ID.fullmatch(inbox_id):
        raise InvalidInput("identity update: inbox_id must be 64 lowercase hex characters")
    if any(old.inbox_id != inbox_id for old in existing_log):
        raise InvalidInput("identity update: existing log belongs to another inbox")
    if not new_update.actions:
        raise InvalidInput("identity update: no actions")
    kinds = [a.WhichOneof("kind") for a in new_update.actions]
    if not existing_log and kinds[0] != "create_inbox":
        raise InvalidInput("identity update: the first update of an inbox must start with create_inbox")
    if kinds.count("create_inbox") > (0 if existing_log else 1):
        raise InvalidInput("identity update: create_inbox is only allowed once, first in a new inbox")
    changes: list[AddressChange] = []
    for action in new_update.actions:
        changes.extend(_action_changes(action, inbox_id))
    return changes
