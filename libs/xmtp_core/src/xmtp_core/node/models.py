"""Plain dataclasses for what the node API sends and returns, and their conversion to and from the wire protos.

Envelopes (group messages, welcomes, commit-log entries) become dataclasses with a `topic` and an `id`, which is
what cursors and subscriptions work with. Identity updates stay `IdentityUpdate` protos: the identity package
owns their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar, cast

from xmtp_core.protos.identity.api.v1 import identity_pb2
from xmtp_core.protos.identity.associations import association_pb2, signature_pb2
from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.protos.mls.message_contents import commit_log_pb2, welcome_pointer_pb2, wrapper_encryption_pb2

ETHEREUM = association_pb2.IDENTIFIER_KIND_ETHEREUM
PASSKEY = association_pb2.IDENTIFIER_KIND_PASSKEY


class WelcomeKind(Enum):
    V1 = "v1"
    POINTER = "welcome_pointer"


@dataclass(frozen=True)
class GroupMessage:
    """A stored group message; `id` is the node's global, ascending cursor value."""

    id: int
    created_ns: int
    group_id: bytes
    data: bytes
    sender_hmac: bytes
    should_push: bool
    is_commit: bool

    @property
    def topic(self) -> bytes:
        return self.group_id

    @classmethod
    def from_proto(cls, message: mls_pb2.GroupMessage) -> GroupMessage:
        if message.WhichOneof("version") != "v1":
            raise ValueError("group message has no v1 body")
        v1 = message.v1
        return cls(v1.id, v1.created_ns, v1.group_id, v1.data, v1.sender_hmac, v1.should_push, v1.is_commit)


@dataclass(frozen=True)
class WelcomeMessage:
    """A stored welcome for one installation; for `WelcomeKind.POINTER`, `data` holds the welcome pointer."""

    id: int
    created_ns: int
    installation_key: bytes
    data: bytes
    hpke_public_key: bytes
    wrapper_algorithm: int
    welcome_metadata: bytes = b""
    kind: WelcomeKind = WelcomeKind.V1

    @property
    def topic(self) -> bytes:
        return self.installation_key

    @classmethod
    def from_proto(cls, message: mls_pb2.WelcomeMessage) -> WelcomeMessage:
        version = message.WhichOneof("version")
        if version == "v1":
            v1 = message.v1
            return cls(
                v1.id,
                v1.created_ns,
                v1.installation_key,
                v1.data,
                v1.hpke_public_key,
                int(v1.wrapper_algorithm),
                v1.welcome_metadata,
            )
        if version == "welcome_pointer":
            p = message.welcome_pointer
            return cls(
                p.id,
                p.created_ns,
                p.installation_key,
                p.welcome_pointer,
                p.hpke_public_key,
                int(p.wrapper_algorithm),
                kind=WelcomeKind.POINTER,
            )
        raise ValueError("welcome message has neither a v1 body nor a welcome pointer")


@dataclass(frozen=True)
class NewGroupMessage:
    """A group message to publish: a TLS-serialized MLSMessage (the node reads group id and commit flag from it)."""

    data: bytes
    sender_hmac: bytes = b""
    should_push: bool = True

    def to_proto(self) -> mls_pb2.GroupMessageInput:
        v1 = mls_pb2.GroupMessageInput.V1(data=self.data, sender_hmac=self.sender_hmac, should_push=self.should_push)
        return mls_pb2.GroupMessageInput(v1=v1)


@dataclass(frozen=True)
class NewWelcome:
    """A welcome to deliver to `installation_key`, already wrapped (HPKE) for that installation."""

    installation_key: bytes
    data: bytes
    hpke_public_key: bytes
    wrapper_algorithm: int
    welcome_metadata: bytes = b""

    def to_proto(self) -> mls_pb2.WelcomeMessageInput:
        v1 = mls_pb2.WelcomeMessageInput.V1(
            installation_key=self.installation_key,
            data=self.data,
            hpke_public_key=self.hpke_public_key,
            wrapper_algorithm=cast(wrapper_encryption_pb2.WelcomeWrapperAlgorithm, self.wrapper_algorithm),
            welcome_metadata=self.welcome_metadata,
        )
        return mls_pb2.WelcomeMessageInput(v1=v1)


@dataclass(frozen=True)
class NewWelcomePointer:
    """A welcome pointer to deliver to `installation_key`."""

    installation_key: bytes
    welcome_pointer: bytes
    hpke_public_key: bytes
    wrapper_algorithm: int

    def to_proto(self) -> mls_pb2.WelcomeMessageInput:
        pointer = mls_pb2.WelcomeMessageInput.WelcomePointer(
            installation_key=self.installation_key,
            welcome_pointer=self.welcome_pointer,
            hpke_public_key=self.hpke_public_key,
            wrapper_algorithm=cast(welcome_pointer_pb2.WelcomePointerWrapperAlgorithm, self.wrapper_algorithm),
        )
        return mls_pb2.WelcomeMessageInput(welcome_pointer=pointer)


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
    sequence_id: int
    serialized_entry: bytes
    signature: signature_pb2.RecoverableEd25519Signature

    @classmethod
    def from_proto(cls, entry: commit_log_pb2.CommitLogEntry) -> CommitLogEntry:
        return cls(entry.sequence_id, entry.serialized_commit_log_entry, entry.signature)


@dataclass(frozen=True)
class CommitLogPage:
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


@dataclass(frozen=True)
class ScwVerification:
    is_valid: bool
    block_number: int | None
    error: str | None

    @classmethod
    def from_proto(
        cls, response: identity_pb2.VerifySmartContractWalletSignaturesResponse.ValidationResponse
    ) -> ScwVerification:
        block = response.block_number if response.HasField("block_number") else None
        error = response.error if response.HasField("error") else None
        return cls(response.is_valid, block, error)
