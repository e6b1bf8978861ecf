"""Permission policies: presets, proto round trips and strict decoding, and commit evaluation the way
libxmtp's ``PolicySet::evaluate_commit`` decides."""

from __future__ import annotations

from dataclasses import replace

import pytest
from xmtp_core.protos.mls.message_contents import group_permissions_pb2 as pb
from xmtp_core.xmtp_mls.errors import PolicyError
from xmtp_core.xmtp_mls.policies import (
    Actor,
    CommitSummary,
    FieldChange,
    InboxChange,
    MembershipBase,
    MetadataBase,
    PermissionsBase,
    Policy,
    admin_only_policy,
    all_members_policy,
    base,
    decode_permissions,
    dm_policy,
    encode_permissions,
    evaluate_commit,
    membership_allows,
    metadata_policy_for,
    policy_set_from_proto,
    policy_set_to_proto,
    preset_name,
)

MEMBER = Actor("m" * 64)
ADMIN = Actor("a" * 64, is_admin=True)
SUPER = Actor("s" * 64, is_super_admin=True)
NEWCOMER = InboxChange("n" * 64)


def test_all_members_preset_matches_libxmtp_default() -> None:
    policy = all_members_policy()
    assert policy.add_member == base(MembershipBase.ALLOW)
    assert policy.remove_member == base(MembershipBase.ALLOW_IF_ADMIN_OR_SUPER_ADMIN)
    assert policy.update_metadata["group_name"] == base(MetadataBase.ALLOW)
    assert policy.update_metadata["message_disappear_in_ns"] == base(MetadataBase.ALLOW_IF_ADMIN)
    assert policy.update_metadata["minimum_supported_protocol_version"] == base(MetadataBase.ALLOW_IF_SUPER_ADMIN)
    assert policy.update_permissions == base(PermissionsBase.ALLOW_IF_SUPER_ADMIN)
    assert preset_name(policy) == "all_members"


def test_admin_only_and_dm_presets() -> None:
    admin_only = admin_only_policy()
    assert admin_only.add_member == base(MembershipBase.ALLOW_IF_ADMIN_OR_SUPER_ADMIN)
    assert admin_only.update_metadata["description"] == base(MetadataBase.ALLOW_IF_ADMIN)
    assert preset_name(admin_only) == "admin_only"
    dm = dm_policy()
    assert dm.add_member == dm.remove_member == base(MembershipBase.DENY)
    assert set(p.base for p in dm.update_metadata.values()) == {MetadataBase.ALLOW}
    assert preset_name(dm) == "custom"


def test_older_groups_with_fewer_metadata_fields_still_match_their_preset() -> None:
    trimmed = replace(all_members_policy(), update_metadata={"group_name": base(MetadataBase.ALLOW)})
    assert preset_name(trimmed) == "all_members"
    tweaked = replace(all_members_policy(), add_member=base(MembershipBase.DENY))
    assert preset_name(tweaked) == "custom"


def test_proto_field_numbers_and_round_trip() -> None:
    nested = replace(
        admin_only_policy(),
        add_member=Policy(any_of=(base(MembershipBase.DENY), Policy(all_of=(base(MembershipBase.ALLOW),)))),
    )
    raw = encode_permissions(nested)
    msg = pb.GroupMutablePermissionsV1()
    msg.ParseFromString(raw)
    assert msg.policies.remove_member_policy.base == 3
    assert msg.policies.add_member_policy.WhichOneof("kind") == "any_condition"
    assert msg.policies.update_metadata_policy["group_name"].base == 3
    assert msg.policies.update_permissions_policy.base == 3
    assert decode_permissions(raw) == nested
    assert policy_set_from_proto(policy_set_to_proto(dm_policy())) == dm_policy()


def _proto_with(**changes: object) -> pb.PolicySet:
    msg = policy_set_to_proto(all_members_policy())
    for name, value in changes.items():
        if value is None:
            msg.ClearField(name)
        else:
            getattr(msg, name).CopyFrom(value)
    return msg


@pytest.mark.parametrize(
    ("msg", "message"),
    [
        (_proto_with(add_member_policy=None), "no add_member_policy"),
        (_proto_with(add_member_policy=pb.MembershipPolicy(base=7)), "invalid add member base"),  # type: ignore[arg-type]
        (_proto_with(add_member_policy=pb.MembershipPolicy(base=0)), "invalid add member base"),  # type: ignore[arg-type]
        (_proto_with(add_admin_policy=pb.PermissionsUpdatePolicy(base=4)), "invalid add admin"),  # type: ignore[arg-type]
        (
            _proto_with(remove_member_policy=pb.MembershipPolicy(and_condition=pb.MembershipPolicy.AndCondition())),
            "empty remove member",
        ),
        (_proto_with(update_permissions_policy=pb.PermissionsUpdatePolicy()), "has no kind"),
    ],
)
def test_malformed_policy_sets_are_refused(msg: pb.PolicySet, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        policy_set_from_proto(msg)


def test_missing_policies_and_garbage_are_refused() -> None:
    with pytest.raises(PolicyError, match="no policies"):
        decode_permissions(b"")
    with pytest.raises(PolicyError, match="not a GroupMutablePermissionsV1"):
        decode_permissions(b"\xff\xff")


def test_a_policy_is_exactly_one_kind() -> None:
    with pytest.raises(PolicyError):
        Policy[MembershipBase]()
    with pytest.raises(PolicyError):
        Policy(base=MembershipBase.ALLOW, all_of=(base(MembershipBase.DENY),))


def test_and_any_conditions() -> None:
    deny_and_allow = Policy(all_of=(base(MembershipBase.DENY), base(MembershipBase.ALLOW)))
    deny_or_allow = Policy(any_of=(base(MembershipBase.DENY), base(MembershipBase.ALLOW)))
    assert not membership_allows(deny_and_allow, SUPER)
    assert membership_allows(deny_or_allow, MEMBER)


def test_all_members_lets_anyone_add_but_only_admins_remove() -> None:
    policy = all_members_policy()
    assert evaluate_commit(policy, CommitSummary(MEMBER, added_inboxes=(NEWCOMER,))).allowed
    denied = evaluate_commit(policy, CommitSummary(MEMBER, removed_inboxes=(NEWCOMER,)))
    assert not denied.allowed and denied.violations == ("remove member policy denies the actor",)
    assert evaluate_commit(policy, CommitSummary(ADMIN, removed_inboxes=(NEWCOMER,))).allowed


def test_admin_only_blocks_members_adding() -> None:
    assert not evaluate_commit(admin_only_policy(), CommitSummary(MEMBER, added_inboxes=(NEWCOMER,))).allowed
    assert evaluate_commit(admin_only_policy(), CommitSummary(ADMIN, added_inboxes=(NEWCOMER,))).allowed


def test_super_admins_can_never_be_removed() -> None:
    target = InboxChange("x" * 64, is_super_admin=True)
    decision = evaluate_commit(all_members_policy(), CommitSummary(SUPER, removed_inboxes=(target,)))
    assert decision.violations == ("a super admin cannot be removed",)


def test_dm_allows_adding_the_other_dm_member_only() -> None:
    peer = InboxChange("p" * 64)
    dm_members = (MEMBER.inbox_id, peer.inbox_id)
    assert evaluate_commit(dm_policy(), CommitSummary(MEMBER, added_inboxes=(peer,), dm_members=dm_members)).allowed
    stranger = CommitSummary(MEMBER, added_inboxes=(NEWCOMER,), dm_members=dm_members)
    assert not evaluate_commit(dm_policy(), stranger).allowed
    self_add = CommitSummary(MEMBER, added_inboxes=(InboxChange(MEMBER.inbox_id),), dm_members=dm_members)
    assert not evaluate_commit(dm_policy(), self_add).allowed
    two = CommitSummary(MEMBER, added_inboxes=(peer, NEWCOMER), dm_members=dm_members)
    assert not evaluate_commit(dm_policy(), two).allowed


def test_metadata_policy_per_field_and_for_unknown_fields() -> None:
    policy = all_members_policy()
    rename = CommitSummary(MEMBER, metadata_changes=(FieldChange("group_name", "a", "b"),))
    assert evaluate_commit(policy, rename).allowed
    disappear = CommitSummary(MEMBER, metadata_changes=(FieldChange("message_disappear_in_ns", None, "5"),))
    assert not evaluate_commit(policy, disappear).allowed
    assert metadata_policy_for(policy, "custom_key") == base(MetadataBase.ALLOW_IF_ADMIN)
    assert metadata_policy_for(policy, "_commit_log_signer") == base(MetadataBase.ALLOW_IF_SUPER_ADMIN)
    signer = CommitSummary(ADMIN, metadata_changes=(FieldChange("_commit_log_signer", "a", "b"),))
    assert evaluate_commit(policy, signer).violations == ("metadata policy for '_commit_log_signer' denies the actor",)
    assert evaluate_commit(policy, replace(signer, actor=SUPER)).allowed


def test_admin_and_super_admin_list_changes() -> None:
    policy = all_members_policy()
    add_admin = CommitSummary(ADMIN, admins_added=("z" * 64,))
    assert not evaluate_commit(policy, add_admin).allowed
    assert evaluate_commit(policy, replace(add_admin, actor=SUPER)).allowed
    add_super = CommitSummary(ADMIN, super_admins_added=("z" * 64,))
    assert evaluate_commit(policy, add_super).violations == ("only a super admin can add super admins",)
    last = CommitSummary(SUPER, super_admins_removed=(SUPER.inbox_id,), num_super_admins=0)
    assert not evaluate_commit(policy, last).allowed
    assert evaluate_commit(policy, replace(last, num_super_admins=1)).allowed


def test_permission_changes_need_a_super_admin_even_if_the_policy_says_admin() -> None:
    lenient = replace(all_members_policy(), update_permissions=base(PermissionsBase.ALLOW_IF_ADMIN))
    assert not evaluate_commit(lenient, CommitSummary(ADMIN, permissions_changed=True)).allowed
    assert evaluate_commit(lenient, CommitSummary(SUPER, permissions_changed=True)).allowed


def test_violations_accumulate() -> None:
    summary = CommitSummary(MEMBER, added_inboxes=(NEWCOMER,), removed_inboxes=(NEWCOMER,), permissions_changed=True)
    decision = evaluate_commit(dm_policy(), summary)
    assert len(decision.violations) == 3 and not decision.allowed
