"""One GroupUpdated per commit: what the committer records for its own commit equals what every receiver gets."""

from __future__ import annotations

from enginekit import Resolver, receive
from test_hostile_kit import group_of_three
from xmtp_core.engine import GroupUpdatedEvent, build_commit, own_commit_update, update_metadata_intent
from xmtp_core.mls.group import Group
from xmtp_core.xmtp_mls.policies import MetadataField


async def test_own_commit_update_matches_what_receivers_see(resolver: Resolver) -> None:
    node, admin, bob, _ = await group_of_three(resolver)
    assert admin.group is not None
    before = admin.group.extensions
    built = build_commit(admin.group, update_metadata_intent({MetadataField.GROUP_NAME: "renamed"}), admin.keys)
    assert built.post_state is not None
    envelope = node.publish(admin.group.group_id, built.data, is_commit=True)
    own = own_commit_update(before, Group.from_bytes(built.post_state), admin.keys.inbox_id)
    (event,) = await receive(bob, envelope, resolver)
    assert isinstance(event, GroupUpdatedEvent) and event.update == own
    assert own.initiated_by_inbox_id == admin.keys.inbox_id and own.metadata_field_changes[0].new_value == "renamed"
