"""The exact text every signer of an identity update signs (xmtp-identity reference §2.1).

The verifier rebuilds this text from the decoded update and checks every signature in the update against
this one string, so it must match libxmtp byte for byte: header, inbox id, RFC 3339 time at second
precision, one two-line block per action in update order, footer; `\\n` line breaks, no trailing newline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from xmtp_core.identity.identifiers import MemberIdentifier, MemberKind, RootIdentifier

HEADER = "XMTP : Authenticate to inbox"
FOOTER = "For more info: https://xmtp.org/signatures"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class UnsignedCreateInbox:
    """What a CreateInbox action says, before signing."""

    identifier: RootIdentifier
    nonce: int


@dataclass(frozen=True)
class UnsignedAddAssociation:
    """What an AddAssociation action says, before signing."""

    new_member: MemberIdentifier


@dataclass(frozen=True)
class UnsignedRevokeAssociation:
    """What a RevokeAssociation action says, before signing."""

    member: MemberIdentifier


@dataclass(frozen=True)
class UnsignedChangeRecoveryAddress:
    """What a ChangeRecoveryAddress action says, before signing."""

    new_recovery: RootIdentifier


UnsignedAction = (
    UnsignedCreateInbox | UnsignedAddAssociation | UnsignedRevokeAssociation | UnsignedChangeRecoveryAddress
)

_LABEL = {MemberKind.ETHEREUM: "Address", MemberKind.INSTALLATION: "ID", MemberKind.PASSKEY: "Passkey"}
_ADD = {
    MemberKind.ETHEREUM: "Link address to inbox",
    MemberKind.INSTALLATION: "Grant messaging access to app",
    MemberKind.PASSKEY: "Link passkey to inbox",
}
_REVOKE = {
    MemberKind.ETHEREUM: "Unlink address from inbox",
    MemberKind.INSTALLATION: "Revoke messaging access from app",
    MemberKind.PASSKEY: "Unlink passkey from inbox",
}


def format_timestamp(client_timestamp_ns: int) -> str:
    """`client_timestamp_ns` floored to whole seconds, as `YYYY-MM-DDTHH:MM:SSZ`."""
    # libxmtp reinterprets the u64 as i64 before converting; do the same so huge values agree.
    signed_ns = client_timestamp_ns - 2**64 if client_timestamp_ns >= 2**63 else client_timestamp_ns
    moment = _EPOCH + timedelta(seconds=signed_ns // 1_000_000_000)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def action_text(action: UnsignedAction) -> str:
    """The two-line block one action contributes."""
    match action:
        case UnsignedCreateInbox(identifier=identifier):
            return f"- Create inbox\n  (Owner: {identifier.text()})"
        case UnsignedAddAssociation(new_member=member):
            return f"- {_ADD[member.kind]}\n  ({_LABEL[member.kind]}: {member.text()})"
        case UnsignedRevokeAssociation(member=member):
            return f"- {_REVOKE[member.kind]}\n  ({_LABEL[member.kind]}: {member.text()})"
        case UnsignedChangeRecoveryAddress(new_recovery=recovery):
            # Always "Address", even for a passkey recovery identifier (libxmtp prints it that way).
            return f"- Change inbox recovery address\n  (Address: {recovery.text()})"


def signature_text(inbox_id: str, client_timestamp_ns: int, actions: Sequence[UnsignedAction]) -> str:
    """The full text that every signer of the update signs."""
    body = "\n".join(action_text(action) for action in actions)
    return (
        f"{HEADER}\n\nInbox ID: {inbox_id}\nCurrent time: {format_timestamp(client_timestamp_ns)}\n\n{body}\n\n{FOOTER}"
    )
