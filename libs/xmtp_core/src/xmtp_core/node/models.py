"""Plain dataclasses for what the node API sends and returns, and their conversion to and from the wire protos.

Group messages and welcomes are dataclasses with a `topic` and an `id` (what cursors and subscriptions work
with), defined in the neutral `xmtp_core.envelopes` and re-exported here; commit-log entries are defined here.
Identity updates stay `IdentityUpdate` protos and a smart-contract-wallet answer is the identity package's
`ScwVerification`: the identity package owns their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from xmtp_core.envelopes import (
    GroupMessage,
    NewGroupMessage,
    NewWelcome,
    NewWelcomePointer,
    WelcomeKind,
    WelcomeMessage,
)
from xmtp_core.identity.signatures import ScwVerification
from xmtp_core.protos.identity.api.v1 import identity_pb2
from xmtp_core.protos.identity.associations import association_pb2, signature_pb2
from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.protos.mls.message_contents import commit_log_pb2

__all__ = [
    "ETHEREUM",
    "PASSKEY",
    "CommitLogEntry",
    "CommitLogPage",
    "CommitLogPublish",
    "GroupMessage",
    "IdentityUpdateLog",
    "NewGroupMessage",
    "NewWelcome",
    "NewWelcomePointer",
    "Page",
    "ScwSignature",
    "ScwVerification",
    "WelcomeKind",
    "WelcomeMessage",
    "scw_verification_from_proto",
]

ETHEREUM = association_pb2.IDENTIFIER_KIND_ETHEREUM
PASSKEY = association_pb2.IDENTIFIER_KIND_PASSKEY


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a query; `next_cursor` is None when the node says there is nothing more to read."""

    items: list[T]
    next_cursor: int | None


@dataclass(frozen=True)
class IdentityUpdateLog:
    """One entry of an inbox's identity-update log as the node stores it."""

    sequence_id: int
    server_timestamp_ns: int
    update: association_pb2.IdentityUpdate

    @classmethod
    def from_proto(cls, entry: identity_pb2.GetIdentityUpdatesResponse.IdentityUpdateLog) -> IdentityUpdateLog:
        return cls(entry.sequence_id, entry.server_timestamp_ns, entry.update)


@dataclass(frozen=True)
class CommitLogPublish:
    """A commit-log entry to publish for a group, signed by the installation that wrote it."""

    group_id: bytes
    serialized_entry: bytes
    signature: signature_pb2.RecoverableEd25519Signature

    def to_proto(self) -> mls_pb2.PublishCommitLogRequest:
        return mls_pb2.PublishCommitLogRequest(
            group_id=self.group_id, serialized_commit_log_entry=self.serialized_entry, signature=self.signature
        )


@dataclass(frozen=True)
class CommitLogEntry:
    """One entry of a group's commit log as the node returns it."""

    sequence_id: int
    serialized_entry: bytes
    signature: signature_pb2.RecoverableEd25519Signature

    @classmethod
    def from_proto(cls, entry: commit_log_pb2.CommitLogEntry) -> CommitLogEntry:
        return cls(entry.sequence_id, entry.serialized_commit_log_entry, entry.signature)


@dataclass(frozen=True)
class CommitLogPage:
    """A page of commit-log entries and the cursor to ask for the next."""

    group_id: bytes
    entries: list[CommitLogEntry]
    next_cursor: int | None


@dataclass(frozen=True)
class ScwSignature:
    """A smart-contract-wallet signature to check on chain: `account_id` is a CAIP-10 account id."""

    account_id: str
    hash: bytes
    signature: bytes
    block_number: int | None = None

    def to_proto(self) -> identity_pb2.VerifySmartContractWalletSignatureRequestSignature:
        message = identity_pb2.VerifySmartContractWalletSignatureRequestSignature(
            account_id=self.account_id, hash=self.hash, signature=self.signature
        )
        if self.block_number is not None:
            message.block_number = self.block_number
        return message


def scw_verification_from_proto(
    response: identity_pb2.VerifySmartContractWalletSignaturesResponse.ValidationResponse,
) -> ScwVerification:
    """The node's answer for one smart-contract-wallet signature."""
    block = response.block_number if response.HasField("block_number") else None
    error = response.error if response.HasField("error") else None
    return ScwVerification(response.is_valid, block, error)
