"""A conversation (DM or group) read from XMTP group-context extensions, and who sent what in the MLS tree."""

from __future__ import annotations

from xmtp_core.engine.events import ConversationInfo, ConversationKind
from xmtp_core.mls.group import Group
from xmtp_core.xmtp_mls.credential import inbox_id_from_credential
from xmtp_core.xmtp_mls.extensions import GroupExtensions, dm_peer_inbox_id, parse_group_extensions
from xmtp_core.xmtp_mls.policies import MetadataField


def conversation_info(group_id: bytes, view: GroupExtensions, own_inbox_id: str) -> ConversationInfo:
    """The conversation ``view`` describes, seen from ``own_inbox_id`` (the DM peer is the other member)."""
    attrs = view.mutable.attributes
    is_dm = view.is_dm
    return ConversationInfo(
        group_id=group_id,
        kind=ConversationKind.DM if is_dm else ConversationKind.GROUP,
        creator_inbox_id=view.metadata.creator_inbox_id,
        members=dict(view.membership.members),
        dm_peer_inbox_id=dm_peer_inbox_id(view.metadata, own_inbox_id) if is_dm else None,
        name=attrs.get(MetadataField.GROUP_NAME, ""),
        description=attrs.get(MetadataField.DESCRIPTION, ""),
        image_url=attrs.get(MetadataField.GROUP_IMAGE_URL_SQUARE, ""),
        admins=tuple(view.mutable.admins),
        super_admins=tuple(view.mutable.super_admins),
    )


def group_conversation(group: Group, own_inbox_id: str) -> ConversationInfo:
    """The conversation of ``group``'s current group-context extensions."""
    return conversation_info(group.group_id, parse_group_extensions(group.extensions), own_inbox_id)


def leaf_inbox_id(group: Group, leaf_index: int) -> str:
    """The inbox id in the credential of ``leaf_index`` (CredentialError if it is not an XMTP credential)."""
    return inbox_id_from_credential(group.tree.member_leaf(leaf_index).credential)


def inbox_of_installation(group: Group, installation_key: bytes) -> str | None:
    """The inbox whose leaf signs with ``installation_key``, or None when no member leaf does."""
    for _, leaf in group.members():
        if leaf.signature_key == installation_key:
            return inbox_id_from_credential(leaf.credential)
    return None


def leaves_of_inboxes(group: Group, inbox_ids: set[str]) -> list[int]:
    """Leaf indexes of every installation of ``inbox_ids`` in the group."""
    return [i for i, leaf in group.members() if inbox_id_from_credential(leaf.credential) in inbox_ids]
