"""Joiner checks: DM shape and initial membership against identity states."""

from __future__ import annotations

from dataclasses import replace

import pytest
from xmtp_core.xmtp_mls.errors import ExtensionError, MembershipError
from xmtp_core.xmtp_mls.extensions import GroupExtensions, GroupMembership, new_dm_extensions, new_group_extensions
from xmtp_core.xmtp_mls.join_checks import LeafIdentity, check_initial_membership, leaf_identities, validate_dm
from xmtp_core.xmtp_mls.key_package import build_key_package
from xmtp_core.xmtp_mls.policies import all_members_policy

ALICE, BOB, EVE = "a1" * 32, "b2" * 32, "e5" * 32
A1, A2, B1 = b"\x0a" * 32, b"\x0b" * 32, b"\x0c" * 32


def test_a_dm_from_the_inviter_passes() -> None:
    validate_dm(new_dm_extensions(ALICE, BOB, 1), ALICE, BOB)


DM = new_dm_extensions(ALICE, BOB, 1)


@pytest.mark.parametrize(
    ("view", "inviter", "own", "message"),
    [
        (DM, EVE, BOB, "exactly the inviter"),
        (DM, ALICE, ALICE, "exactly the inviter"),
        (replace(DM, mutable=replace(DM.mutable, admins=(ALICE,))), ALICE, BOB, "no admins"),
        (replace(DM, mutable=replace(DM.mutable, super_admins=(BOB,))), ALICE, BOB, "no admins"),
        (replace(DM, permissions=all_members_policy()), ALICE, BOB, "DM policy"),
        (new_group_extensions(ALICE, 1), ALICE, BOB, "not a DM"),
    ],
)
def test_widenable_or_foreign_dms_are_refused(view: GroupExtensions, inviter: str, own: str, message: str) -> None:
    with pytest.raises(ExtensionError, match=message):
        validate_dm(view, inviter, own)


def test_initial_membership_matches() -> None:
    membership = GroupMembership({ALICE: 3, BOB: 1})
    leaves = [LeafIdentity(ALICE, A1), LeafIdentity(ALICE, A2), LeafIdentity(BOB, B1)]
    check_initial_membership(membership, leaves, {ALICE: [A1, A2], BOB: [B1]})


def test_failed_installations_may_be_missing() -> None:
    membership = GroupMembership({ALICE: 3, BOB: 1}, failed_installations=(A2,))
    check_initial_membership(membership, [LeafIdentity(ALICE, A1), LeafIdentity(BOB, B1)], {ALICE: [A1, A2], BOB: [B1]})


@pytest.mark.parametrize(
    ("leaves", "message"),
    [
        ([LeafIdentity(ALICE, A1), LeafIdentity(BOB, B1), LeafIdentity(EVE, b"\x0e" * 32)], "not in the group"),
        ([LeafIdentity(ALICE, A1), LeafIdentity(BOB, A2)], "is not in inbox"),
        ([LeafIdentity(ALICE, A1)], "missing from the tree"),
    ],
)
def test_initial_membership_mismatches(leaves: list[LeafIdentity], message: str) -> None:
    with pytest.raises(MembershipError, match=message):
        check_initial_membership(GroupMembership({ALICE: 3, BOB: 1}), leaves, {ALICE: [A1], BOB: [B1]})


def test_every_member_needs_a_state() -> None:
    with pytest.raises(MembershipError, match="no association state"):
        check_initial_membership(GroupMembership({ALICE: 3, BOB: 1}), [LeafIdentity(ALICE, A1)], {ALICE: [A1]})


def test_leaf_identities_come_from_credential_and_signature_key() -> None:
    bundle = build_key_package(ALICE, b"\x01" * 32)
    assert leaf_identities([bundle.key_package.leaf_node]) == [LeafIdentity(ALICE, bundle.installation_key)]
