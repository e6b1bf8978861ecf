"""The envelopes that cross between the node client, the engine and the store, and the kind of a conversation:
plain dataclasses (with their conversion to and from the node API's protos), in one neutral module so the engine
can use them without importing the node package (and with it gRPC).

`xmtp_core.node` re-exports the envelope types, so `xmtp_core.node.models.GroupMessage` keeps working.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import cast

from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.protos.mls.message_contents import welcome_pointer_pb2, wrapper_encryption_pb2


class ConversationKind(enum.StrEnum):
    """A DM (two inboxes, fixed) or a group; the engine reports it and the store keeps it."""

    DM = "dm"
    GROUP = "group"


class WelcomeKind(enum.Enum):
    """A Welcome as delivered: the wrapped Welcome itself, or a pointer to a pointee published once."""

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
