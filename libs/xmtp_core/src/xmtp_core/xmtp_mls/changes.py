"""What a commit changes in an XMTP group, computed from the group-context extensions before and after it
(libxmtp ``ValidatedCommit``: membership diff, metadata field changes, admin/super-admin list changes,
permissions change), plus the membership sequence-id rule and the rule that the immutable metadata (0xF000)
never changes. Feeds ``policies`` and ``group_updated``.
"""

from __future__ import annotations

from dataclasses import dataclass

from xmtp_core.xmtp_mls.errors import ImmutableMetadataError, MembershipError
from xmtp_core.xmtp_mls.extensions import GroupExtensions, GroupMembership, MutableMetadata
from xmtp_core.xmtp_mls.policies import Actor, CommitSummary, FieldChange, InboxChange


@dataclass(frozen=True)
class MembershipDiff:
    """Inboxes a commit added, removed, or moved to another sequence id."""

    added_inboxes: tuple[str, ...]
    removed_inboxes: tuple[str, ...]
    updated_inboxes: tuple[str, ...]  # present before and after with a different sequence id


def membership_diff(before: GroupMembership, after: GroupMembership) -> MembershipDiff:
    """The inboxes that differ between two GroupMemberships (each tuple sorted)."""
    old, new = before.members, after.members
    return MembershipDiff(
        added_inboxes=tuple(sorted(set(new) - set(old))),
        removed_inboxes=tuple(sorted(set(old) - set(new))),
        updated_inboxes=tuple(sorted(i for i in set(old) & set(new) if old[i] != new[i])),
    )


def check_sequence_ids(before: GroupMembership, after: GroupMembership) -> None:
    """Rule 1 of libxmtp's commit validation: an inbox's sequence id can only increase."""
    for inbox_id in membership_diff(before, after).updated_inboxes:
        if after.members[inbox_id] < before.members[inbox_id]:
            raise MembershipError(
                f"sequence id of {inbox_id} went down ({before.members[inbox_id]} -> {after.members[inbox_id]})"
            )


def check_immutable_metadata(before: GroupExtensions, after: GroupExtensions) -> None:
    """No commit may change 0xF000: no policy covers it, so a change would let any member turn a group into a
    "DM" of her own or rename its creator."""
    if after.metadata != before.metadata:
        raise ImmutableMetadataError("the commit changes the immutable metadata (0xF000)")


def metadata_field_changes(before: MutableMetadata, after: MutableMetadata) -> tuple[FieldChange, ...]:
    """Every attribute whose value differs (added, removed or changed), sorted by name for a stable order."""
    keys = sorted(set(before.attributes) | set(after.attributes))
    return tuple(
        FieldChange(key, before.attributes.get(key), after.attributes.get(key))
        for key in keys
        if before.attributes.get(key) != after.attributes.get(key)
    )


def _added(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(i for i in new if i not in old)


def actor_in(view: GroupExtensions, inbox_id: str) -> Actor:
    """The actor's roles as the group saw them before the commit."""
    return Actor(inbox_id, view.mutable.is_admin(inbox_id), view.mutable.is_super_admin(inbox_id))


def _inbox_change(view: GroupExtensions, inbox_id: str) -> InboxChange:
    return InboxChange(inbox_id, view.mutable.is_admin(inbox_id), view.mutable.is_super_admin(inbox_id))


def summarize_commit(before: GroupExtensions, after: GroupExtensions, actor_inbox_id: str) -> CommitSummary:
    """A policy-ready summary of the change from ``before`` to ``after`` made by ``actor_inbox_id``.

    Raises MembershipError when a sequence id decreased, ImmutableMetadataError when 0xF000 changed.
    """
    check_immutable_metadata(before, after)
    check_sequence_ids(before.membership, after.membership)
    diff = membership_diff(before.membership, after.membership)
    old, new = before.mutable, after.mutable
    return CommitSummary(
        actor=actor_in(before, actor_inbox_id),
        added_inboxes=tuple(_inbox_change(before, i) for i in diff.added_inboxes),
        removed_inboxes=tuple(_inbox_change(before, i) for i in diff.removed_inboxes),
        metadata_changes=metadata_field_changes(old, new),
        admins_added=_added(old.admins, new.admins),
        admins_removed=_added(new.admins, old.admins),
        super_admins_added=_added(old.super_admins, new.super_admins),
        super_admins_removed=_added(new.super_admins, old.super_admins),
        num_super_admins=len(new.super_admins),
        permissions_changed=before.permissions != after.permissions,
        dm_members=before.metadata.dm_members,
    )
