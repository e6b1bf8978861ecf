"""Group-context extensions: the 0xF000 extra length prefix, raw 0xFF0x protos, RequiredCapabilities bytes,
round trips, DM detection and the errors for malformed or missing extensions."""

from __future__ import annotations

import pytest
from xmtp_core.mls.codec import encode_vec
from xmtp_core.mls.extensions import Extension
from xmtp_core.protos.mls.message_contents import group_membership_pb2, group_metadata_pb2
from xmtp_core.protos.mls.message_contents import group_mutable_metadata_pb2 as mutable_pb2
from xmtp_core.xmtp_mls.errors import ExtensionError
from xmtp_core.xmtp_mls.extensions import (
    ConversationType,
    GroupMembership,
    GroupMetadata,
    MutableMetadata,
    dm_id,
    dm_peer_inbox_id,
    encode_group_metadata,
    group_membership_extension,
    immutable_metadata_extension,
    mutable_metadata_extension,
    new_dm_extensions,
    new_group_extensions,
    parse_group_extensions,
    parse_group_membership,
    parse_immutable_metadata,
    parse_mutable_metadata,
    required_capabilities,
)
from xmtp_core.xmtp_mls.policies import admin_only_policy, all_members_policy, dm_policy

ALICE, BOB = "a1" * 32, "b2" * 32


def test_immutable_metadata_has_an_extra_varint_length_prefix() -> None:
    meta = GroupMetadata(ConversationType.DM, ALICE, (ALICE, BOB))
    proto = encode_group_metadata(meta)
    ext = immutable_metadata_extension(meta)
    assert ext.extension_type == 0xF000
    assert ext.extension_data == encode_vec(proto)
    assert len(proto) > 63 and ext.extension_data[:2] == bytes([0x40 | len(proto) >> 8, len(proto) & 0xFF])
    # On the wire the extension_data<V> itself adds a second length in front.
    wire = ext.to_bytes()
    assert wire[:2] == b"\xf0\x00" and wire[4:6] == ext.extension_data[:2]
    parsed = group_metadata_pb2.GroupMetadataV1()
    parsed.ParseFromString(ext.extension_data[2:])
    assert parsed.conversation_type == 2 and parsed.creator_inbox_id == ALICE
    assert parsed.dm_members.dm_member_two.inbox_id == BOB
    assert parse_immutable_metadata(ext.extension_data) == meta


def test_immutable_metadata_without_the_prefix_is_refused() -> None:
    proto = encode_group_metadata(GroupMetadata(ConversationType.GROUP, ALICE))
    with pytest.raises(ExtensionError, match="length-prefixed"):
        parse_immutable_metadata(proto)


def test_unknown_conversation_type_is_refused() -> None:
    proto = group_metadata_pb2.GroupMetadataV1(conversation_type=9, creator_inbox_id=ALICE)  # type: ignore[arg-type]
    with pytest.raises(ExtensionError, match="conversation type 9"):
        parse_immutable_metadata(encode_vec(proto.SerializeToString()))


def test_mutable_metadata_and_membership_are_raw_protos() -> None:
    mutable = MutableMetadata({"group_name": "n", "description": ""}, (BOB,), (ALICE,))
    ext = mutable_metadata_extension(mutable)
    assert ext.extension_type == 0xFF00
    msg = mutable_pb2.GroupMutableMetadataV1()
    msg.ParseFromString(ext.extension_data)
    assert list(msg.admin_list.inbox_ids) == [BOB] and list(msg.super_admin_list.inbox_ids) == [ALICE]
    assert parse_mutable_metadata(ext.extension_data) == mutable

    membership = GroupMembership({ALICE: 3, BOB: 7}, (b"\x01" * 32,))
    ext = group_membership_extension(membership)
    assert ext.extension_type == 0xFF01
    raw = group_membership_pb2.GroupMembership()
    raw.ParseFromString(ext.extension_data)
    assert dict(raw.members) == {ALICE: 3, BOB: 7}
    assert parse_group_membership(ext.extension_data) == membership


def test_empty_admin_lists_are_still_encoded_like_libxmtp() -> None:
    # libxmtp 1.9.1 DMs carry `12 00 1a 00`: both Inboxes messages present and empty.
    data = mutable_metadata_extension(MutableMetadata({}, (), ())).extension_data
    assert data == b"\x12\x00\x1a\x00"


def test_required_capabilities_bytes() -> None:
    ext = required_capabilities().to_extension()
    assert ext.extension_type == 0x0003
    assert ext.extension_data == bytes.fromhex("0c" + "ff01ff00ff02f000000a0001" + "02" + "0007" + "02" + "0001")


def test_new_group_round_trips_and_is_not_a_dm() -> None:
    view = new_group_extensions(ALICE, 5, policy=admin_only_policy(), attributes={"group_name": "Team"})
    exts = view.to_extensions()
    assert [e.extension_type for e in exts] == [0xF000, 0xFF00, 0xFF02, 0x0003, 0xFF01]
    parsed = parse_group_extensions(exts)
    assert parsed == view
    assert parsed.conversation_type == ConversationType.GROUP and not parsed.is_dm
    assert parsed.mutable.super_admins == (ALICE,) and parsed.mutable.admins == ()
    assert parsed.mutable.attributes == {"group_name": "Team", "description": "", "group_image_url_square": ""}
    assert parsed.membership.members == {ALICE: 5}
    assert parsed.permissions == admin_only_policy()
    assert new_group_extensions(ALICE, 1).permissions == all_members_policy()


def test_new_dm_has_dm_members_no_admins_and_the_dm_policy() -> None:
    view = parse_group_extensions(new_dm_extensions(ALICE, BOB, 2).to_extensions())
    assert view.is_dm and view.metadata.dm_members == (ALICE, BOB)
    assert view.mutable.admins == () and view.mutable.super_admins == ()
    assert view.permissions == dm_policy()
    assert dm_peer_inbox_id(view.metadata, BOB) == ALICE
    assert dm_peer_inbox_id(view.metadata, ALICE) == BOB
    with pytest.raises(ExtensionError, match="not one of"):
        dm_peer_inbox_id(view.metadata, "c3" * 32)
    with pytest.raises(ExtensionError, match="not a DM"):
        dm_peer_inbox_id(new_group_extensions(ALICE, 1).metadata, ALICE)


def test_dm_id_does_not_depend_on_who_asks() -> None:
    assert dm_id(BOB, ALICE) == dm_id(ALICE, BOB) == f"dm:{ALICE}:{BOB}"


def test_missing_extension_is_named() -> None:
    exts = tuple(e for e in new_group_extensions(ALICE, 1).to_extensions() if e.extension_type != 0xFF01)
    with pytest.raises(ExtensionError, match="group membership"):
        parse_group_extensions(exts)


def test_migrated_appdata_group_is_reported() -> None:
    with pytest.raises(ExtensionError, match="AppDataDictionary"):
        parse_group_extensions((Extension(0x0006, b"\x00"), required_capabilities().to_extension()))


@pytest.mark.parametrize("ext_type", [0xFF00, 0xFF01, 0xFF02])
def test_garbage_proto_is_refused(ext_type: int) -> None:
    exts = tuple(
        Extension(ext_type, b"\xff\xff\xff") if e.extension_type == ext_type else e
        for e in new_group_extensions(ALICE, 1).to_extensions()
    )
    with pytest.raises(ExtensionError):
        parse_group_extensions(exts)
