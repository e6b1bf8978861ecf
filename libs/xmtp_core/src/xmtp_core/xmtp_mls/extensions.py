"""XMTP group-context extensions: ImmutableMetadata 0xF000 (GroupMetadataV1 behind an extra MLS varint length,
as OpenMLS serialises ``Metadata{metadata: Vec<u8>}``), mutable metadata 0xFF00, membership 0xFF01,
permissions 0xFF02 (raw protos), and RequiredCapabilities; parse and build, DM vs group detection.

Every inbox id these extensions name (creator, DM members, admins, membership) must have an inbox id's form,
so a hostile group cannot send malformed ids to identity look-ups, columns or logs.

Groups migrated to AppDataDictionary (0x0006, libxmtp's opt-in "proposals" mode) carry none of 0xF000/0xFF0x;
:func:`parse_group_extensions` reports that with a clear error rather than guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from google.protobuf.message import DecodeError as ProtoDecodeError
from google.protobuf.message import Message

from xmtp_core.identity.inbox_id import is_inbox_id
from xmtp_core.mls.codec import Reader, encode_vec
from xmtp_core.mls.errors import DecodeError
from xmtp_core.mls.extensions import Extension, RequiredCapabilities, find_extension
from xmtp_core.protos.mls.message_contents import group_membership_pb2, group_metadata_pb2
from xmtp_core.protos.mls.message_contents import group_mutable_metadata_pb2 as mutable_pb2
from xmtp_core.untrusted import FIELD_LIMIT, clean
from xmtp_core.xmtp_mls.constants import (
    EXT_APP_DATA_DICTIONARY,
    EXT_GROUP_MEMBERSHIP,
    EXT_GROUP_PERMISSIONS,
    EXT_IMMUTABLE_METADATA,
    EXT_MUTABLE_METADATA,
    EXT_REQUIRED_CAPABILITIES,
    GROUP_REQUIRED_CREDENTIALS,
    GROUP_REQUIRED_EXTENSIONS,
    GROUP_REQUIRED_PROPOSALS,
)
from xmtp_core.xmtp_mls.errors import ExtensionError, PolicyError
from xmtp_core.xmtp_mls.policies import (
    MetadataField,
    PolicySet,
    all_members_policy,
    decode_permissions,
    dm_policy,
    encode_permissions,
)


class ConversationType(IntEnum):
    """GroupMetadataV1 conversation types."""

    UNSPECIFIED = 0
    GROUP = 1
    DM = 2
    SYNC = 3
    ONESHOT = 4


@dataclass(frozen=True)
class GroupMetadata:
    """The immutable metadata (GroupMetadataV1). ``oneshot_message`` is kept as raw proto bytes."""

    conversation_type: ConversationType
    creator_inbox_id: str
    dm_members: tuple[str, str] | None = None
    creator_account_address: str = ""
    oneshot_message: bytes | None = None

    @property
    def is_dm(self) -> bool:
        """Whether the conversation type is DM."""
        return self.conversation_type == ConversationType.DM


@dataclass(frozen=True)
class MutableMetadata:
    """GroupMutableMetadataV1: string attributes plus admin and super-admin inbox lists."""

    attributes: Mapping[str, str] = field(default_factory=dict)
    admins: tuple[str, ...] = ()
    super_admins: tuple[str, ...] = ()

    def is_admin(self, inbox_id: str) -> bool:
        """Whether ``inbox_id`` is in the admin list."""
        return inbox_id in self.admins

    def is_super_admin(self, inbox_id: str) -> bool:
        """Whether ``inbox_id`` is in the super-admin list."""
        return inbox_id in self.super_admins


@dataclass(frozen=True)
class GroupMembership:
    """GroupMembership: inbox id -> identity-update sequence id, plus installations that could not be added."""

    members: Mapping[str, int] = field(default_factory=dict)
    failed_installations: tuple[bytes, ...] = ()


def _check_inbox_ids(inbox_ids: Iterable[str], what: str) -> None:
    for inbox_id in inbox_ids:
        if not is_inbox_id(inbox_id):
            raise ExtensionError(f"{what} holds {clean(inbox_id, FIELD_LIMIT)!r}, which is not an inbox id")


def _parse(msg: Message, data: bytes, what: str) -> None:
    try:
        msg.ParseFromString(data)
    except ProtoDecodeError as exc:
        raise ExtensionError(f"{what} is not a valid proto: {exc}") from exc


# 0xF000 ----------------------------------------------------------------------------------------------------


def encode_group_metadata(meta: GroupMetadata) -> bytes:
    """GroupMetadataV1 proto bytes (without the 0xF000 length prefix)."""
    msg = group_metadata_pb2.GroupMetadataV1(
        conversation_type=int(meta.conversation_type),  # type: ignore[arg-type]
        creator_account_address=meta.creator_account_address,
        creator_inbox_id=meta.creator_inbox_id,
    )
    if meta.dm_members is not None:
        one, two = meta.dm_members
        msg.dm_members.dm_member_one.inbox_id = one
        msg.dm_members.dm_member_two.inbox_id = two
    if meta.oneshot_message is not None:
        msg.oneshot_message.ParseFromString(meta.oneshot_message)
    return msg.SerializeToString()


def decode_group_metadata(data: bytes) -> GroupMetadata:
    """Parse GroupMetadataV1; ExtensionError for bad protos, unknown types or malformed inbox ids."""
    msg = group_metadata_pb2.GroupMetadataV1()
    _parse(msg, data, "GroupMetadataV1")
    try:
        conversation_type = ConversationType(int(msg.conversation_type))
    except ValueError:
        raise ExtensionError(f"unknown conversation type {msg.conversation_type}") from None
    _check_inbox_ids([msg.creator_inbox_id], "GroupMetadataV1 creator_inbox_id")
    dm_members = None
    if msg.HasField("dm_members"):
        dm_members = (msg.dm_members.dm_member_one.inbox_id, msg.dm_members.dm_member_two.inbox_id)
        _check_inbox_ids(dm_members, "GroupMetadataV1 dm_members")
    oneshot = msg.oneshot_message.SerializeToString() if msg.HasField("oneshot_message") else None
    return GroupMetadata(conversation_type, msg.creator_inbox_id, dm_members, msg.creator_account_address, oneshot)


def immutable_metadata_extension(meta: GroupMetadata) -> Extension:
    """0xF000: OpenMLS wraps the proto in ``Metadata{metadata<V>}``, so extension_data = varint length ‖ proto."""
    return Extension(EXT_IMMUTABLE_METADATA, encode_vec(encode_group_metadata(meta)))


def parse_immutable_metadata(extension_data: bytes) -> GroupMetadata:
    """0xF000 extension data (varint length, then GroupMetadataV1) to GroupMetadata."""
    reader = Reader(extension_data)
    try:
        inner = reader.vec()
        reader.finish()
    except DecodeError as exc:
        raise ExtensionError(f"0xF000 is not a length-prefixed Metadata struct: {exc}") from exc
    return decode_group_metadata(inner)


# 0xFF00 ----------------------------------------------------------------------------------------------------


def mutable_metadata_extension(meta: MutableMetadata) -> Extension:
    """0xFF00: GroupMutableMetadataV1, serialised deterministically."""
    msg = mutable_pb2.GroupMutableMetadataV1(
        attributes=dict(meta.attributes),
        admin_list=mutable_pb2.Inboxes(inbox_ids=list(meta.admins)),
        super_admin_list=mutable_pb2.Inboxes(inbox_ids=list(meta.super_admins)),
    )
    return Extension(EXT_MUTABLE_METADATA, msg.SerializeToString(deterministic=True))


def parse_mutable_metadata(extension_data: bytes) -> MutableMetadata:
    """0xFF00 extension data to MutableMetadata; admin lists must hold inbox ids."""
    msg = mutable_pb2.GroupMutableMetadataV1()
    _parse(msg, extension_data, "GroupMutableMetadataV1")
    _check_inbox_ids(msg.admin_list.inbox_ids, "admin list")
    _check_inbox_ids(msg.super_admin_list.inbox_ids, "super admin list")
    return MutableMetadata(dict(msg.attributes), tuple(msg.admin_list.inbox_ids), tuple(msg.super_admin_list.inbox_ids))


# 0xFF01 ----------------------------------------------------------------------------------------------------


def group_membership_extension(membership: GroupMembership) -> Extension:
    """0xFF01: GroupMembership, serialised deterministically."""
    msg = group_membership_pb2.GroupMembership(
        members=dict(membership.members), failed_installations=list(membership.failed_installations)
    )
    return Extension(EXT_GROUP_MEMBERSHIP, msg.SerializeToString(deterministic=True))


def parse_group_membership(extension_data: bytes) -> GroupMembership:
    """0xFF01 extension data to GroupMembership; its keys must be inbox ids."""
    msg = group_membership_pb2.GroupMembership()
    _parse(msg, extension_data, "GroupMembership")
    _check_inbox_ids(msg.members, "GroupMembership")
    return GroupMembership(dict(msg.members), tuple(bytes(i) for i in msg.failed_installations))


# 0xFF02 / 0x0003 -------------------------------------------------------------------------------------------


def permissions_extension(policy_set: PolicySet) -> Extension:
    """0xFF02: the policy set as GroupMutablePermissionsV1."""
    return Extension(EXT_GROUP_PERMISSIONS, encode_permissions(policy_set))


def parse_permissions(extension_data: bytes) -> PolicySet:
    """0xFF02 extension data to a PolicySet (ExtensionError if malformed)."""
    try:
        return decode_permissions(extension_data)
    except PolicyError as exc:
        raise ExtensionError(f"0xFF02: {exc}") from exc


def required_capabilities() -> RequiredCapabilities:
    """The RequiredCapabilities every XMTP group carries."""
    return RequiredCapabilities(GROUP_REQUIRED_EXTENSIONS, GROUP_REQUIRED_PROPOSALS, GROUP_REQUIRED_CREDENTIALS)


# The whole set ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupExtensions:
    """A parsed view of an XMTP group's context extensions."""

    metadata: GroupMetadata
    mutable: MutableMetadata
    membership: GroupMembership
    permissions: PolicySet
    required: RequiredCapabilities | None = None

    @property
    def conversation_type(self) -> ConversationType:
        """The conversation type from the immutable metadata."""
        return self.metadata.conversation_type

    @property
    def is_dm(self) -> bool:
        """Whether this is a DM."""
        return self.metadata.is_dm

    def to_extensions(self) -> tuple[Extension, ...]:
        """In the order libxmtp 1.9.1 groups carry them (seen in its Welcomes): 0xF000, 0xFF00, 0xFF02,
        RequiredCapabilities, 0xFF01 (the membership extension is re-appended by each membership commit)."""
        exts = [
            immutable_metadata_extension(self.metadata),
            mutable_metadata_extension(self.mutable),
            permissions_extension(self.permissions),
        ]
        if self.required is not None:
            exts.append(self.required.to_extension())
        exts.append(group_membership_extension(self.membership))
        return tuple(exts)


def _require(extensions: tuple[Extension, ...], ext_type: int, name: str) -> bytes:
    ext = find_extension(extensions, ext_type)
    if ext is None:
        raise ExtensionError(f"group context has no {name} extension (0x{ext_type:04x})")
    return ext.extension_data


def parse_group_extensions(extensions: Iterable[Extension]) -> GroupExtensions:
    """Parse the XMTP view of a group context; ExtensionError if anything is missing or malformed."""
    exts = tuple(extensions)
    if find_extension(exts, EXT_IMMUTABLE_METADATA) is None and find_extension(exts, EXT_APP_DATA_DICTIONARY):
        raise ExtensionError("group was migrated to AppDataDictionary (0x0006); that layout is not supported yet")
    required_ext = find_extension(exts, EXT_REQUIRED_CAPABILITIES)
    try:
        required = None if required_ext is None else RequiredCapabilities.from_bytes(required_ext.extension_data)
    except DecodeError as exc:
        raise ExtensionError(f"RequiredCapabilities does not decode: {exc}") from exc
    return GroupExtensions(
        metadata=parse_immutable_metadata(_require(exts, EXT_IMMUTABLE_METADATA, "ImmutableMetadata")),
        mutable=parse_mutable_metadata(_require(exts, EXT_MUTABLE_METADATA, "mutable metadata")),
        membership=parse_group_membership(_require(exts, EXT_GROUP_MEMBERSHIP, "group membership")),
        permissions=parse_permissions(_require(exts, EXT_GROUP_PERMISSIONS, "group permissions")),
        required=required,
    )


# New groups and DMs ----------------------------------------------------------------------------------------

DEFAULT_GROUP_ATTRIBUTES = (MetadataField.GROUP_NAME, MetadataField.DESCRIPTION, MetadataField.GROUP_IMAGE_URL_SQUARE)


def new_group_extensions(
    creator_inbox_id: str,
    creator_sequence_id: int,
    *,
    policy: PolicySet | None = None,
    attributes: Mapping[str, str] | None = None,
) -> GroupExtensions:
    """A new group as libxmtp creates it: type GROUP, creator is the only super admin and the only member."""
    attrs = {name: "" for name in DEFAULT_GROUP_ATTRIBUTES} | dict(attributes or {})
    return GroupExtensions(
        metadata=GroupMetadata(ConversationType.GROUP, creator_inbox_id),
        mutable=MutableMetadata(attrs, (), (creator_inbox_id,)),
        membership=GroupMembership({creator_inbox_id: creator_sequence_id}),
        permissions=policy or all_members_policy(),
        required=required_capabilities(),
    )


def new_dm_extensions(
    creator_inbox_id: str,
    peer_inbox_id: str,
    creator_sequence_id: int,
    *,
    attributes: Mapping[str, str] | None = None,
) -> GroupExtensions:
    """A new DM: type DM, dm_members = (creator, peer), no admins, the DM policy set.

    The peer joins the membership with the commit that adds it, so only the creator is listed here.
    """
    attrs = {name: "" for name in DEFAULT_GROUP_ATTRIBUTES} | dict(attributes or {})
    return GroupExtensions(
        metadata=GroupMetadata(ConversationType.DM, creator_inbox_id, (creator_inbox_id, peer_inbox_id)),
        mutable=MutableMetadata(attrs, (), ()),
        membership=GroupMembership({creator_inbox_id: creator_sequence_id}),
        permissions=dm_policy(),
        required=required_capabilities(),
    )


def dm_peer_inbox_id(meta: GroupMetadata, own_inbox_id: str) -> str:
    """The other member of a DM, from ``dm_members``."""
    if not meta.is_dm or meta.dm_members is None:
        raise ExtensionError("not a DM (conversation type DM with dm_members)")
    one, two = meta.dm_members
    if own_inbox_id not in (one, two):
        raise ExtensionError(f"inbox {own_inbox_id} is not one of this DM's members")
    return two if own_inbox_id == one else one


def dm_id(inbox_a: str, inbox_b: str) -> str:
    """Clients stitch duplicate DMs by ``dm:<lower inbox>:<higher inbox>``."""
    low, high = sorted((inbox_a, inbox_b))
    return f"dm:{low}:{high}"
