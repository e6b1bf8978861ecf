"""Commit installation rules: expected diff from membership + identity states, and what a commit may do."""

from __future__ import annotations

import pytest
from xmtp_core.xmtp_mls.commit_checks import (
    InstallationDiff,
    check_commit_installations,
    check_leaf_update,
    expected_installation_diff,
)
from xmtp_core.xmtp_mls.errors import MembershipError
from xmtp_core.xmtp_mls.extensions import GroupMembership
from xmtp_core.xmtp_mls.join_checks import LeafIdentity

ALICE, BOB, CAROL = "a1" * 32, "b2" * 32, "c3" * 32
A1, A2, B1, C1, C2 = (bytes([n]) * 32 for n in range(1, 6))


def test_expected_diff_for_added_removed_and_updated_inboxes() -> None:
    before = GroupMembership({ALICE: 1, BOB: 2})
    after = GroupMembership({ALICE: 4, CAROL: 1})
    diff = expected_installation_diff(
        before, after, states_before={ALICE: [A1], BOB: [B1]}, states_after={ALICE: [A2], CAROL: [C1, C2]}
    )
    assert diff == InstallationDiff(frozenset({A2, C1, C2}), frozenset({A1, B1}))


def test_expected_diff_needs_every_state_and_rising_sequence_ids() -> None:
    with pytest.raises(MembershipError, match="no new association state"):
        expected_installation_diff(GroupMembership({}), GroupMembership({CAROL: 1}), {}, {})
    with pytest.raises(MembershipError, match="went down"):
        expected_installation_diff(GroupMembership({ALICE: 3}), GroupMembership({ALICE: 2}), {}, {})


def test_commit_matching_the_diff_passes() -> None:
    expected = InstallationDiff(frozenset({C1, C2}), frozenset({B1}))
    assert check_commit_installations(expected, [C1, C2], [B1], existing=[A1, B1]) == frozenset()


def test_missing_new_installation_may_be_failed_and_creator_may_be_existing() -> None:
    expected = InstallationDiff(frozenset({C1, C2}), frozenset({B1}))
    check_commit_installations(expected, [C1, A1], [B1], existing=[A1, B1])
    check_commit_installations(expected, [C1], [], existing=[A1, B1], failed=[B1])


def test_unexpected_add_or_remove_is_refused() -> None:
    expected = InstallationDiff(frozenset({C1}), frozenset())
    with pytest.raises(MembershipError, match="unexpected installations added"):
        check_commit_installations(expected, [C1, C2], [], existing=[A1])
    with pytest.raises(MembershipError, match="removed installations differ"):
        check_commit_installations(expected, [C1], [A1], existing=[A1])
    with pytest.raises(MembershipError, match="removed installations differ"):
        check_commit_installations(InstallationDiff(frozenset(), frozenset({B1})), [], [], existing=[A1, B1])


def test_only_super_admins_may_readd() -> None:
    expected = InstallationDiff(frozenset(), frozenset())
    assert check_commit_installations(expected, [B1], [B1], existing=[A1, B1], actor_is_super_admin=True) == {B1}
    with pytest.raises(MembershipError):
        check_commit_installations(expected, [B1], [B1], existing=[A1], actor_is_super_admin=False)


def test_leaf_update_must_stay_in_its_inbox() -> None:
    check_leaf_update(LeafIdentity(ALICE, A2), [A1, A2])
    with pytest.raises(MembershipError, match="does not belong"):
        check_leaf_update(LeafIdentity(ALICE, B1), [A1, A2])
