"""Synthesising the ``xmtp.org/group_updated`` transcript content libxmtp shows for commits and Welcomes.

For a commit: initiated_by = the committer, added/removed inboxes from the GroupMembership diff (removed
inboxes that had asked to leave go to ``left_inboxes``), metadata field changes, and admin / super-admin list
changes. For a Welcome: initiated_by = the inviter and added_inboxes = [us]; its idempotency key is
``"<welcome created_ns>_welcome_added"``. Message ids come from ``xmtp_core.content.message_id``.
"""

from __future__ import annotations

from collections.abc import Iterable

from xmtp_core.content import GroupUpdated
from xmtp_core.content.codecs.group import MetadataFieldChange
from xmtp_core.xmtp_mls.policies import CommitSummary


def group_updated_from_commit(summary: CommitSummary, pending_removals: Iterable[str] = ()) -> GroupUpdated:
    """The GroupUpdated of a validated commit; ``pending_removals`` are inboxes that sent a leave request."""
    leaving = set(pending_removals)
    removed = [i.inbox_id for i in summary.removed_inboxes]
    return GroupUpdated(
        initiated_by_inbox_id=summary.actor.inbox_id,
        added_inboxes=tuple(i.inbox_id for i in summary.added_inboxes),
        removed_inboxes=tuple(i for i in removed if i not in leaving),
        metadata_field_changes=tuple(
            MetadataFieldChange(c.field_name, c.old_value, c.new_value) for c in summary.metadata_changes
        ),
        left_inboxes=tuple(i for i in removed if i in leaving),
        added_admin_inboxes=summary.admins_added,
        removed_admin_inboxes=summary.admins_removed,
        added_super_admin_inboxes=summary.super_admins_added,
        removed_super_admin_inboxes=summary.super_admins_removed,
    )


def is_empty(update: GroupUpdated) -> bool:
    """True when a GroupUpdated records nothing (a key update); libxmtp still stores one per commit."""
    return not (
        update.added_inboxes
        or update.removed_inboxes
        or update.metadata_field_changes
        or update.left_inboxes
        or update.added_admin_inboxes
        or update.removed_admin_inboxes
        or update.added_super_admin_inboxes
        or update.removed_super_admin_inboxes
    )


def group_updated_for_welcome(added_by_inbox_id: str, own_inbox_id: str) -> GroupUpdated:
    """The GroupUpdated a joiner records: added by the inviter, and we are the added inbox."""
    return GroupUpdated(initiated_by_inbox_id=added_by_inbox_id, added_inboxes=(own_inbox_id,))


def welcome_idempotency_key(welcome_created_ns: int) -> str:
    """libxmtp's idempotency key for the Welcome's GroupUpdated message."""
    return f"{welcome_created_ns}_welcome_added"
