"""Commit summaries from before/after extensions, the sequence-id rule, and the GroupUpdated libxmtp shows."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from xmtp_core.content import message_id
from xmtp_core.content.codecs.group import GroupUpdatedCodec, MetadataFieldChange
from xmtp_core.content.types import EncodedContent
from xmtp_core.xmtp_mls.changes import membership_diff, metadata_field_changes, summarize_commit
from xmtp_core.xmtp_mls.errors import MembershipError
from xmtp_core.xmtp_mls.extensions import GroupMembership, MutableMetadata, new_group_extensions
from xmtp_core.xmtp_mls.group_updated import (
    group_updated_for_welcome,
    group_updated_from_commit,
    is_empty,
    welcome_idempotency_key,
)
from xmtp_core.xmtp_mls.policies import FieldChange, admin_only_policy, all_members_policy, evaluate_commit

ALICE, BOB, CAROL = "a1" * 32, "b2" * 32, "c3" * 32


def test_membership_diff() -> None:
    diff = membership_diff(GroupMembership({ALICE: 1, BOB: 4}), GroupMembership({ALICE: 2, CAROL: 1}))
    assert (diff.added_inboxes, diff.removed_inboxes, diff.updated_inboxes) == ((CAROL,), (BOB,), (ALICE,))


def test_metadata_changes_cover_added_removed_and_changed_keys() -> None:
    before = MutableMetadata({"group_name": "old", "description": "same", "gone": "x"})
    after = MutableMetadata({"group_name": "new", "description": "same", "app_data": "y"})
    assert metadata_field_changes(before, after) == (
        FieldChange("app_data", None, "y"),
        FieldChange("gone", "x", None),
        FieldChange("group_name", "old", "new"),
    )


def test_summary_of_an_add_and_rename_by_a_member() -> None:
    before = new_group_extensions(ALICE, 1)
    after = replace(
        before,
        membership=GroupMembership({ALICE: 1, BOB: 3}),
        mutable=replace(before.mutable, attributes={**before.mutable.attributes, "group_name": "Team"}),
    )
    summary = summarize_commit(before, after, BOB)
    assert summary.actor.inbox_id == BOB and not summary.actor.is_super_admin
    assert [i.inbox_id for i in summary.added_inboxes] == [BOB]
    assert summary.metadata_changes == (FieldChange("group_name", "", "Team"),)
    assert not summary.permissions_changed and summary.num_super_admins == 1
    assert evaluate_commit(before.permissions, summary).allowed

    update = group_updated_from_commit(summary)
    assert update.initiated_by_inbox_id == BOB and update.added_inboxes == (BOB,)
    assert update.metadata_field_changes == (MetadataFieldChange("group_name", "", "Team"),)
    assert not is_empty(update)


def test_summary_of_role_and_permission_changes_by_the_creator() -> None:
    before = new_group_extensions(ALICE, 1)
    after = replace(
        before,
        mutable=replace(before.mutable, admins=(BOB,), super_admins=(ALICE, CAROL)),
        permissions=admin_only_policy(),
    )
    summary = summarize_commit(before, after, ALICE)
    assert summary.actor.is_super_admin
    assert summary.admins_added == (BOB,) and summary.super_admins_added == (CAROL,)
    assert summary.permissions_changed
    assert evaluate_commit(before.permissions, summary).allowed
    assert not evaluate_commit(before.permissions, summarize_commit(before, after, BOB)).allowed

    update = group_updated_from_commit(summary)
    assert update.added_admin_inboxes == (BOB,) and update.added_super_admin_inboxes == (CAROL,)
    reverse = group_updated_from_commit(summarize_commit(after, before, ALICE))
    assert reverse.removed_admin_inboxes == (BOB,) and reverse.removed_super_admin_inboxes == (CAROL,)


def test_removed_inboxes_that_asked_to_leave_are_left_inboxes() -> None:
    before = replace(new_group_extensions(ALICE, 1), membership=GroupMembership({ALICE: 1, BOB: 1, CAROL: 1}))
    after = replace(before, membership=GroupMembership({ALICE: 1}))
    update = group_updated_from_commit(summarize_commit(before, after, ALICE), pending_removals=[CAROL])
    assert update.removed_inboxes == (BOB,) and update.left_inboxes == (CAROL,)


def test_sequence_ids_cannot_go_down() -> None:
    before = replace(new_group_extensions(ALICE, 1), membership=GroupMembership({ALICE: 5}))
    after = replace(before, membership=GroupMembership({ALICE: 4}))
    with pytest.raises(MembershipError, match="went down"):
        summarize_commit(before, after, ALICE)


def test_key_update_gives_an_empty_group_updated() -> None:
    view = new_group_extensions(ALICE, 1, policy=all_members_policy())
    update = group_updated_from_commit(summarize_commit(view, view, ALICE))
    assert is_empty(update) and update.initiated_by_inbox_id == ALICE


def test_welcome_group_updated_and_its_message_id() -> None:
    update = group_updated_for_welcome(ALICE, BOB)
    assert update.initiated_by_inbox_id == ALICE and update.added_inboxes == (BOB,)
    encoded = GroupUpdatedCodec().encode(update)
    key = welcome_idempotency_key(1795316206871444417)
    assert key == "1795316206871444417_welcome_added"
    content = encoded.to_bytes()
    assert GroupUpdatedCodec().decode(EncodedContent.from_bytes(content)) == update
    # libxmtp's id for the synthesised message: over the group id, that key and the EncodedContent bytes.
    group_id = b"\x07" * 16
    expected = hashlib.sha256(group_id + b"\t" + key.encode() + b"\t" + content).digest()
    assert message_id(group_id, key, content) == expected
