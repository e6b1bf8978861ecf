"""Group-management content (protobuf, never pushed): group_updated, legacy group_membership_change,
leave_request and deleteMessage.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmtp_core.content.codec import ContentCodec
from xmtp_core.content.codecs._common import parse_proto, serialize_proto
from xmtp_core.content.types import ContentTypeId, EncodedContent
from xmtp_core.protos.mls.message_contents import transcript_messages_pb2 as tm_pb2
from xmtp_core.protos.mls.message_contents.content_types import delete_message_pb2, leave_request_pb2

GROUP_UPDATED = ContentTypeId("xmtp.org", "group_updated", 1, 0)
GROUP_MEMBERSHIP_CHANGE = ContentTypeId("xmtp.org", "group_membership_change", 1, 0)
LEAVE_REQUEST = ContentTypeId("xmtp.org", "leave_request", 1, 0)
DELETE_MESSAGE = ContentTypeId("xmtp.org", "deleteMessage", 1, 0)


@dataclass(frozen=True)
class MetadataFieldChange:
    """One group-metadata field that a commit changed (old and new value)."""

    field_name: str
    old_value: str | None = None
    new_value: str | None = None


@dataclass(frozen=True)
class GroupUpdated:
    """What one commit changed; inbox lists hold inbox ids."""

    initiated_by_inbox_id: str
    added_inboxes: tuple[str, ...] = ()
    removed_inboxes: tuple[str, ...] = ()
    metadata_field_changes: tuple[MetadataFieldChange, ...] = ()
    left_inboxes: tuple[str, ...] = ()
    added_admin_inboxes: tuple[str, ...] = ()
    removed_admin_inboxes: tuple[str, ...] = ()
    added_super_admin_inboxes: tuple[str, ...] = ()
    removed_super_admin_inboxes: tuple[str, ...] = ()


_INBOX_LISTS = (
    "added_inboxes",
    "removed_inboxes",
    "left_inboxes",
    "added_admin_inboxes",
    "removed_admin_inboxes",
    "added_super_admin_inboxes",
    "removed_super_admin_inboxes",
)


class GroupUpdatedCodec(ContentCodec[GroupUpdated]):
    """xmtp.org/group_updated:1.0: what a commit changed (members, metadata), as libxmtp reports it."""

    content_type = GROUP_UPDATED
    value_type = GroupUpdated
    push = False

    def encode(self, value: GroupUpdated) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        msg = tm_pb2.GroupUpdated(initiated_by_inbox_id=value.initiated_by_inbox_id)
        for name in _INBOX_LISTS:
            target = getattr(msg, name)
            for inbox_id in getattr(value, name):
                target.add(inbox_id=inbox_id)
        for change in value.metadata_field_changes:
            item = msg.metadata_field_changes.add(field_name=change.field_name)
            if change.old_value is not None:
                item.old_value = change.old_value
            if change.new_value is not None:
                item.new_value = change.new_value
        return self._encoded(value, serialize_proto(msg, "group updated"))

    def decode(self, encoded: EncodedContent) -> GroupUpdated:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        msg = parse_proto(tm_pb2.GroupUpdated(), encoded.content, "group updated")
        lists = {name: tuple(inbox.inbox_id for inbox in getattr(msg, name)) for name in _INBOX_LISTS}
        changes = tuple(
            MetadataFieldChange(
                c.field_name,
                c.old_value if c.HasField("old_value") else None,
                c.new_value if c.HasField("new_value") else None,
            )
            for c in msg.metadata_field_changes
        )
        return GroupUpdated(msg.initiated_by_inbox_id, metadata_field_changes=changes, **lists)


@dataclass(frozen=True)
class MembershipChange:
    """One member added to or removed from a group (legacy membership-change content)."""

    installation_ids: tuple[bytes, ...]
    account_address: str
    initiated_by_account_address: str


@dataclass(frozen=True)
class GroupMembershipChanges:
    """Legacy transcript content; still decoded for old history."""

    members_added: tuple[MembershipChange, ...] = ()
    members_removed: tuple[MembershipChange, ...] = ()
    installations_added: tuple[MembershipChange, ...] = ()
    installations_removed: tuple[MembershipChange, ...] = ()


_CHANGE_LISTS = ("members_added", "members_removed", "installations_added", "installations_removed")


class GroupMembershipChangeCodec(ContentCodec[GroupMembershipChanges]):
    """xmtp.org/group_membership_change:1.0: the legacy membership-change content."""

    content_type = GROUP_MEMBERSHIP_CHANGE
    value_type = GroupMembershipChanges
    push = False

    def encode(self, value: GroupMembershipChanges) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        msg = tm_pb2.GroupMembershipChanges()
        for name in _CHANGE_LISTS:
            target = getattr(msg, name)
            for change in getattr(value, name):
                target.add(
                    installation_ids=list(change.installation_ids),
                    account_address=change.account_address,
                    initiated_by_account_address=change.initiated_by_account_address,
                )
        return self._encoded(value, serialize_proto(msg, "group membership changes"))

    def decode(self, encoded: EncodedContent) -> GroupMembershipChanges:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        msg = parse_proto(tm_pb2.GroupMembershipChanges(), encoded.content, "group membership changes")
        lists = {
            name: tuple(
                MembershipChange(tuple(c.installation_ids), c.account_address, c.initiated_by_account_address)
                for c in getattr(msg, name)
            )
            for name in _CHANGE_LISTS
        }
        return GroupMembershipChanges(**lists)


@dataclass(frozen=True)
class LeaveRequest:
    """A member asks to be removed from the group."""

    authenticated_note: bytes | None = None


class LeaveRequestCodec(ContentCodec[LeaveRequest]):
    """xmtp.org/leave_request:1.0: a member asks to be removed from the group."""

    content_type = LEAVE_REQUEST
    value_type = LeaveRequest
    push = False

    def encode(self, value: LeaveRequest) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        msg = leave_request_pb2.LeaveRequest()
        if value.authenticated_note is not None:
            msg.authenticated_note = value.authenticated_note
        return self._encoded(value, serialize_proto(msg, "leave request"))

    def decode(self, encoded: EncodedContent) -> LeaveRequest:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        msg = parse_proto(leave_request_pb2.LeaveRequest(), encoded.content, "leave request")
        return LeaveRequest(msg.authenticated_note if msg.HasField("authenticated_note") else None)


@dataclass(frozen=True)
class DeleteMessage:
    """Request to delete message `message_id` (lowercase hex); only its sender or a super admin may."""

    message_id: str


class DeleteMessageCodec(ContentCodec[DeleteMessage]):
    """xmtp.org/deleteMessage:1.0: the sender withdraws an earlier message."""

    content_type = DELETE_MESSAGE
    value_type = DeleteMessage
    push = False

    def encode(self, value: DeleteMessage) -> EncodedContent:
        """The value as an EncodedContent of this codec's content type."""
        msg = delete_message_pb2.DeleteMessage(message_id=value.message_id)
        return self._encoded(value, serialize_proto(msg, "delete message"))

    def decode(self, encoded: EncodedContent) -> DeleteMessage:
        """The value a received EncodedContent carries; `ContentDecodeError` when it is malformed."""
        msg = parse_proto(delete_message_pb2.DeleteMessage(), encoded.content, "delete message")
        return DeleteMessage(msg.message_id)
