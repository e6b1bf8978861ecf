"""Plain dataclasses that flow between the gRPC layer, the node logic and the store."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class WelcomeKind(enum.IntEnum):
    """Which WelcomeMessage variant a stored row is returned as."""

    V1 = 1
    POINTER = 2


@dataclass(frozen=True)
class Paging:
    ascending: bool
    limit: int
    cursor: int


@dataclass(frozen=True)
class NewGroupMessage:
    group_id: bytes
    data: bytes
    sender_hmac: bytes
    should_push: bool
    is_commit: bool


@dataclass(frozen=True, kw_only=True)
class GroupMessageRow(NewGroupMessage):
    """A stored group message: what was published plus the node's id and receive time."""

    id: int
    created_ns: int

    @property
    def topic(self) -> bytes:
        return self.group_id

    @property
    def size(self) -> int:
        return len(self.data) + len(self.sender_hmac)


@dataclass(frozen=True)
class NewWelcome:
    installation_key: bytes
    kind: WelcomeKind
    data: bytes
    hpke_public_key: bytes
    wrapper_algorithm: int
    welcome_metadata: bytes


@dataclass(frozen=True, kw_only=True)
class WelcomeRow(NewWelcome):
    """A stored welcome: what was published plus the node's id and receive time."""

    id: int
    created_ns: int

    @property
    def topic(self) -> bytes:
        return self.installation_key

    @property
    def size(self) -> int:
        return len(self.data) + len(self.welcome_metadata)


@dataclass(frozen=True)
class IdentityLogEntry:
    sequence_id: int
    inbox_id: str
    server_timestamp_ns: int
    update: bytes


@dataclass(frozen=True)
class AddressChange:
    """One identifier gaining (added=True) or losing an association with the update's inbox."""

    identifier: str
    kind: int
    added: bool


@dataclass(frozen=True)
class InboxSnapshot:
    """What PublishIdentityUpdate knows about an inbox under its lock, before verifying a new update.

    `state` is the cached AssociationState proto after `state_sequence_id` (None: no cache, replay from
    empty); `tail` holds the serialised updates after that point, oldest first (normally empty).
    """

    log_length: int
    state: bytes | None
    state_sequence_id: int
    tail: list[bytes]


@dataclass(frozen=True)
class AcceptedUpdate:
    """A verified identity update: the index changes it causes and the inbox state after it."""

    address_changes: list[AddressChange]
    installations: list[bytes]
    removed_installations: list[bytes]
    state: bytes


class InstallationStanding(enum.Enum):
    """Where an installation stands in the inbox a key package names."""

    NOT_A_MEMBER = "not_a_member"  # never added (yet): libxmtp uploads before publishing the add
    MEMBER = "member"
    REVOKED = "revoked"


@dataclass(frozen=True)
class NewCommitLogEntry:
    group_id: bytes
    serialized_entry: bytes
    serialized_signature: bytes


@dataclass(frozen=True, kw_only=True)
class CommitLogRow(NewCommitLogEntry):
    """A stored commit-log entry with its per-node sequence id."""

    id: int

    @property
    def size(self) -> int:
        return len(self.serialized_entry) + len(self.serialized_signature)
