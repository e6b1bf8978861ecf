"""The state of an XMTP inbox at one point of its identity log, and the difference between two states.

`AssociationState` is immutable; the state machine (`association.py`) returns a new one per update.
`diff` gives the members added/removed between two states, which group membership checks use to find the
installations a commit must add or remove.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from xmtp_core.identity.codec import (
    decode_member_identifier,
    decode_root_identifier,
    encode_member_identifier,
    encode_root_identifier,
)
from xmtp_core.identity.identifiers import (
    EthereumAddress,
    InstallationKey,
    MemberIdentifier,
    MemberKind,
    Passkey,
    RootIdentifier,
)
from xmtp_core.protos.identity.associations import association_pb2 as pb


@dataclass(frozen=True)
class Member:
    """A member of an inbox and who added it (None for the creating identifier)."""

    identifier: MemberIdentifier
    added_by: MemberIdentifier | None = None
    client_timestamp_ns: int | None = None
    added_on_chain_id: int | None = None

    @property
    def kind(self) -> MemberKind:
        """What kind of identifier the member is."""
        return self.identifier.kind


@dataclass(frozen=True)
class AssociationState:
    """An inbox at one point of its log. Immutable: every transition returns a new state."""

    inbox_id: str
    members: Mapping[MemberIdentifier, Member]
    recovery_identifier: RootIdentifier
    seen_signatures: frozenset[bytes] = field(default_factory=frozenset)

    def get(self, identifier: MemberIdentifier) -> Member | None:
        """The member with this identifier, or None."""
        return self.members.get(identifier)

    def has_seen(self, signature: bytes) -> bool:
        """Whether an earlier update of the log already used this signature (replay)."""
        return signature in self.seen_signatures

    def members_by_kind(self, kind: MemberKind) -> list[Member]:
        # Oldest first, creator (no timestamp) last, as libxmtp orders them.
        """The members of one kind, oldest first (the creator last), as libxmtp orders them."""
        chosen = [m for m in self.members.values() if m.kind == kind]
        return sorted(chosen, key=lambda m: m.client_timestamp_ns if m.client_timestamp_ns is not None else 2**64)

    def installation_keys(self) -> list[bytes]:
        """Public keys of the installations (the MLS leaf signature keys the inbox may use)."""
        members = self.members_by_kind(MemberKind.INSTALLATION)
        return [m.identifier.public_key for m in members if isinstance(m.identifier, InstallationKey)]

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
        """Public keys of the installations that joined."""
        return [m.public_key for m in self.new_members if isinstance(m, InstallationKey)]

    @property
    def removed_installations(self) -> list[bytes]:
        """Public keys of the installations that left."""
        return [m.public_key for m in self.removed_members if isinstance(m, InstallationKey)]

    @property
    def new_identifiers(self) -> list[RootIdentifier]:
        """Wallets and passkeys that joined (what a node's identifier -> inbox index must add)."""
        return [m for m in self.new_members if isinstance(m, EthereumAddress | Passkey)]

    @property
    def removed_identifiers(self) -> list[RootIdentifier]:
        """Wallets and passkeys that left (what a node's identifier index must revoke)."""
        return [m for m in self.removed_members if isinstance(m, EthereumAddress | Passkey)]

    def to_proto(self) -> pb.AssociationStateDiff:
        """The `AssociationStateDiff` protobuf."""
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
