"""Message framing wire structs (RFC 9420 §6): Sender, FramedContent, FramedContentAuthData,
AuthenticatedContent, PublicMessage, PrivateMessage and the MLSMessage envelope for every wire format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

from xmtp_core.mls._wire import WireStruct
from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.errors import DecodeError
from xmtp_core.mls.extensions import PROTOCOL_MLS10
from xmtp_core.mls.group_context import GroupContext
from xmtp_core.mls.group_info import GroupInfo
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.proposals import Commit, Proposal
from xmtp_core.mls.welcome import Welcome

WIRE_PUBLIC_MESSAGE = 1
WIRE_PRIVATE_MESSAGE = 2
WIRE_WELCOME = 3
WIRE_GROUP_INFO = 4
WIRE_KEY_PACKAGE = 5

CONTENT_APPLICATION = 1
CONTENT_PROPOSAL = 2
CONTENT_COMMIT = 3

SENDER_MEMBER = 1
SENDER_EXTERNAL = 2
SENDER_NEW_MEMBER_PROPOSAL = 3
SENDER_NEW_MEMBER_COMMIT = 4


@dataclass(frozen=True)
class Sender(WireStruct):
    """Who sent a message: a member (by leaf index), an external sender or a new member (§6)."""

    sender_type: int
    index: int = 0  # leaf_index for members, sender_index for external senders

    @classmethod
    def member(cls, leaf_index: int) -> Sender:
        """The sender that is the member at leaf ``leaf_index``."""
        return cls(SENDER_MEMBER, leaf_index)

    def encode(self, w: Writer) -> None:
        w.u8(self.sender_type)
        if self.sender_type in (SENDER_MEMBER, SENDER_EXTERNAL):
            w.u32(self.index)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        t = r.u8()
        if t in (SENDER_MEMBER, SENDER_EXTERNAL):
            return cls(t, r.u32())
        if t in (SENDER_NEW_MEMBER_PROPOSAL, SENDER_NEW_MEMBER_COMMIT):
            return cls(t)
        raise DecodeError(f"unknown sender type {t}")


@dataclass(frozen=True)
class FramedContent(WireStruct):
    """Message content with its group, epoch, sender and authenticated data (§6)."""

    group_id: bytes
    epoch: int
    sender: Sender
    authenticated_data: bytes
    content_type: int
    application_data: bytes = field(default=b"", repr=False)  # plaintext
    proposal: Proposal | None = None
    commit: Commit | None = None

    def encode_body(self, w: Writer) -> None:
        """Append the content body (application data, proposal or commit)."""
        encode_content_body(w, self.content_type, self.application_data, self.proposal, self.commit)

    def encode(self, w: Writer) -> None:
        w.vec(self.group_id)
        w.u64(self.epoch)
        self.sender.encode(w)
        w.vec(self.authenticated_data)
        w.u8(self.content_type)
        self.encode_body(w)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        group_id, epoch, sender, aad, ctype = r.vec(), r.u64(), Sender.decode(r), r.vec(), r.u8()
        app, proposal, commit = decode_content_body(r, ctype)
        return cls(group_id, epoch, sender, aad, ctype, app, proposal, commit)


def encode_content_body(
    w: Writer, content_type: int, application_data: bytes, proposal: Proposal | None, commit: Commit | None
) -> None:
    """Append the body of a content of ``content_type``."""
    if content_type == CONTENT_APPLICATION:
        w.vec(application_data)
    elif content_type == CONTENT_PROPOSAL and proposal is not None:
        proposal.encode(w)
    elif content_type == CONTENT_COMMIT and commit is not None:
        commit.encode(w)
    else:
        raise DecodeError(f"content of type {content_type} lacks its body")


def decode_content_body(r: Reader, content_type: int) -> tuple[bytes, Proposal | None, Commit | None]:
    """Read the body of a content of ``content_type``: (application data, proposal, commit)."""
    if content_type == CONTENT_APPLICATION:
        return r.vec(), None, None
    if content_type == CONTENT_PROPOSAL:
        return b"", Proposal.decode(r), None
    if content_type == CONTENT_COMMIT:
        return b"", None, Commit.decode(r)
    raise DecodeError(f"unknown content type {content_type}")


@dataclass(frozen=True)
class FramedContentAuthData:
    """A content's signature and, for commits, its confirmation tag (§6.1)."""

    signature: bytes
    confirmation_tag: bytes | None = None  # present exactly for commits

    def encode(self, w: Writer) -> None:
        """Append the signature and, for a commit, the confirmation tag."""
        w.vec(self.signature)
        if self.confirmation_tag is not None:
            w.vec(self.confirmation_tag)

    @classmethod
    def decode(cls, r: Reader, content_type: int) -> FramedContentAuthData:
        """Read the auth data of a content of ``content_type``."""
        signature = r.vec()
        tag = r.vec() if content_type == CONTENT_COMMIT else None
        return cls(signature, tag)

    def to_bytes(self) -> bytes:
        """The auth data's wire form for a content of ``content_type``."""
        w = Writer()
        self.encode(w)
        return w.bytes()


def framed_content_tbs(wire_format: int, content: FramedContent, context: GroupContext | None) -> bytes:
    """FramedContentTBS: member and new-member-commit senders also sign the GroupContext (§6.1)."""
    w = Writer()
    w.u16(PROTOCOL_MLS10)
    w.u16(wire_format)
    content.encode(w)
    if content.sender.sender_type in (SENDER_MEMBER, SENDER_NEW_MEMBER_COMMIT):
        if context is None:
            raise DecodeError("FramedContentTBS for a member sender needs the GroupContext")
        context.encode(w)
    return w.bytes()


@dataclass(frozen=True)
class AuthenticatedContent(WireStruct):
    """FramedContent with its wire format and auth data, as signed and transcript-hashed (§6.1)."""

    wire_format: int
    content: FramedContent
    auth: FramedContentAuthData

    def encode(self, w: Writer) -> None:
        w.u16(self.wire_format)
        self.content.encode(w)
        self.auth.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        wire_format = r.u16()
        content = FramedContent.decode(r)
        return cls(wire_format, content, FramedContentAuthData.decode(r, content.content_type))


@dataclass(frozen=True)
class PublicMessage(WireStruct):
    """A signed, unencrypted handshake message with a membership tag for members (§6.2)."""

    content: FramedContent
    auth: FramedContentAuthData
    membership_tag: bytes | None = None  # present exactly for member senders

    def encode(self, w: Writer) -> None:
        self.content.encode(w)
        self.auth.encode(w)
        if self.content.sender.sender_type == SENDER_MEMBER:
            if self.membership_tag is None:
                raise DecodeError("PublicMessage from a member needs a membership_tag")
            w.vec(self.membership_tag)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        content = FramedContent.decode(r)
        auth = FramedContentAuthData.decode(r, content.content_type)
        tag = r.vec() if content.sender.sender_type == SENDER_MEMBER else None
        return cls(content, auth, tag)


@dataclass(frozen=True)
class PrivateMessage(WireStruct):
    """An encrypted message: content and sender data under the epoch's keys (§6.3)."""

    group_id: bytes
    epoch: int
    content_type: int
    authenticated_data: bytes
    encrypted_sender_data: bytes
    ciphertext: bytes

    def encode(self, w: Writer) -> None:
        w.vec(self.group_id)
        w.u64(self.epoch)
        w.u8(self.content_type)
        w.vec(self.authenticated_data)
        w.vec(self.encrypted_sender_data)
        w.vec(self.ciphertext)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(r.vec(), r.u64(), r.u8(), r.vec(), r.vec(), r.vec())


@dataclass(frozen=True)
class GroupMessageHeader:
    """The cleartext routing fields of a PublicMessage or PrivateMessage (what a delivery service sees)."""

    wire_format: int
    group_id: bytes
    epoch: int
    content_type: int

    @property
    def is_commit(self) -> bool:
        """Whether the message carries a commit."""
        return self.content_type == CONTENT_COMMIT


def peek_group_message(data: bytes) -> GroupMessageHeader:
    """Read an MLSMessage's group id, epoch and content type without decoding the content or decrypting.

    A PrivateMessage is cheap to read completely, so truncation and trailing bytes are caught; a PublicMessage is
    read only up to its content_type (the content, e.g. a whole Commit, is left undecoded). Anything that is not
    a PublicMessage or PrivateMessage raises DecodeError.
    """
    r = Reader(data)
    version = r.u16()
    if version != PROTOCOL_MLS10:
        raise DecodeError(f"unsupported protocol version {version}")
    wire_format = r.u16()
    if wire_format == WIRE_PRIVATE_MESSAGE:
        private = PrivateMessage.decode(r)
        r.finish()
        group_id, epoch, content_type = private.group_id, private.epoch, private.content_type
    elif wire_format == WIRE_PUBLIC_MESSAGE:
        group_id, epoch = r.vec(), r.u64()
        Sender.decode(r)
        r.vec()  # authenticated_data
        content_type = r.u8()
        if not r.remaining:
            raise DecodeError("PublicMessage has no content after its header")
    else:
        raise DecodeError(f"wire format {wire_format} is not a PublicMessage (1) or PrivateMessage (2)")
    if content_type not in (CONTENT_APPLICATION, CONTENT_PROPOSAL, CONTENT_COMMIT):
        raise DecodeError(f"unknown content type {content_type}")
    return GroupMessageHeader(wire_format, group_id, epoch, content_type)


MessageBody = PublicMessage | PrivateMessage | Welcome | GroupInfo | KeyPackage

_WIRE_TYPES: dict[int, type[WireStruct]] = {
    WIRE_PUBLIC_MESSAGE: PublicMessage,
    WIRE_PRIVATE_MESSAGE: PrivateMessage,
    WIRE_WELCOME: Welcome,
    WIRE_GROUP_INFO: GroupInfo,
    WIRE_KEY_PACKAGE: KeyPackage,
}


@dataclass(frozen=True)
class MLSMessage(WireStruct):
    """The top-level message: version, wire format and body (§6)."""

    wire_format: int
    body: MessageBody
    version: int = PROTOCOL_MLS10

    @classmethod
    def wrap(cls, body: MessageBody) -> MLSMessage:
        """An MLSMessage around ``body``, its wire format taken from the body's type."""
        for wire_format, typ in _WIRE_TYPES.items():
            if isinstance(body, typ):
                return cls(wire_format, body)
        raise DecodeError(f"cannot wrap {type(body).__name__} in an MLSMessage")

    def encode(self, w: Writer) -> None:
        w.u16(self.version)
        w.u16(self.wire_format)
        self.body.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        version = r.u16()
        if version != PROTOCOL_MLS10:
            raise DecodeError(f"unsupported protocol version {version}")
        wire_format = r.u16()
        typ = _WIRE_TYPES.get(wire_format)
        if typ is None:
            raise DecodeError(f"unknown wire format {wire_format}")
        body = typ.decode(r)
        assert isinstance(body, PublicMessage | PrivateMessage | Welcome | GroupInfo | KeyPackage)
        return cls(wire_format, body, version)
