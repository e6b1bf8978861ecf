"""libxmtp's installation rules for a commit (``validated_commit.rs`` rules 2, 3, 4 and 7), as pure functions.

From the old and new GroupMembership and the association states at the old and new sequence ids, the expected
installation diff is: every installation of an added inbox, every installation of a removed inbox, and for an
inbox whose sequence id rose, what its identity state gained or lost in between. A commit may then add only
expected installations (or ones already in the group) and must remove exactly the expected ones, except those
listed as failed. A super admin may re-add installations (added and removed in the same commit) to heal forks.

A leaf a commit rewrites in place (the committer's UpdatePath leaf, an Update proposal's leaf) keeps its
credential: the inbox id never changes, and the signature key changes only to another installation of the same
inbox (:func:`leaf_changes`, :func:`check_credentials_unchanged`, :func:`check_changed_installations`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from xmtp_core.mls.leaf_node import LeafNode
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.xmtp_mls.changes import check_sequence_ids, membership_diff
from xmtp_core.xmtp_mls.credential import inbox_id_from_credential
from xmtp_core.xmtp_mls.errors import CredentialChangeError, MembershipError
from xmtp_core.xmtp_mls.extensions import GroupMembership
from xmtp_core.xmtp_mls.join_checks import LeafIdentity

Installations = Mapping[str, Iterable[bytes]]


@dataclass(frozen=True)
class InstallationDiff:
    """The installations a commit must add and remove, from the identity states."""

    added: frozenset[bytes]
    removed: frozenset[bytes]


def _keys(states: Installations, inbox_id: str, which: str) -> set[bytes]:
    if inbox_id not in states:
        raise MembershipError(f"no {which} association state given for {inbox_id}")
    return set(states[inbox_id])


def expected_installation_diff(
    before: GroupMembership, after: GroupMembership, states_before: Installations, states_after: Installations
) -> InstallationDiff:
    """``states_before`` / ``states_after``: each inbox's installations at its old / new sequence id."""
    check_sequence_ids(before, after)
    diff = membership_diff(before, after)
    added: set[bytes] = set()
    removed: set[bytes] = set()
    for inbox_id in diff.added_inboxes:
        added |= _keys(states_after, inbox_id, "new")
    for inbox_id in diff.removed_inboxes:
        removed |= _keys(states_before, inbox_id, "old")
    for inbox_id in diff.updated_inboxes:
        old, new = _keys(states_before, inbox_id, "old"), _keys(states_after, inbox_id, "new")
        added |= new - old
        removed |= old - new
    return InstallationDiff(frozenset(added), frozenset(removed))


def check_commit_installations(
    expected: InstallationDiff,
    added: Iterable[bytes],
    removed: Iterable[bytes],
    *,
    existing: Iterable[bytes],
    failed: Iterable[bytes] = (),
    actor_is_super_admin: bool = False,
) -> frozenset[bytes]:
    """Raise MembershipError if the commit's Adds/Removes differ from ``expected``; return re-added installations."""
    added_set, removed_set, failed_set = set(added), set(removed), set(failed)
    readded: set[bytes] = set()
    if actor_is_super_admin:
        readded = added_set & removed_set
        added_set -= readded
        removed_set -= readded
    unknown = added_set - expected.added - set(existing)
    if unknown:
        raise MembershipError(f"unexpected installations added: {sorted(k.hex() for k in unknown)}")
    if removed_set != expected.removed - failed_set:
        unexpected = removed_set - expected.removed
        raise MembershipError(
            f"removed installations differ from the expected diff (unexpected: {sorted(k.hex() for k in unexpected)})"
        )
    return frozenset(readded)


def check_leaf_update(leaf: LeafIdentity, installations_at_new_sequence: Iterable[bytes]) -> None:
    """Rule 4: a path/Update leaf's installation must belong to its credential's inbox at the new sequence id."""
    if leaf.installation_key not in set(installations_at_new_sequence):
        raise MembershipError(f"installation {leaf.installation_key.hex()} does not belong to inbox {leaf.inbox_id}")


@dataclass(frozen=True)
class LeafChange:
    """A member leaf a commit replaced in place (same index, neither removed nor re-filled by an Add)."""

    index: int
    before: LeafNode
    after: LeafNode


def leaf_changes(before: RatchetTree, after: RatchetTree, removed: Iterable[int]) -> list[LeafChange]:
    """Every leaf of ``before`` that ``after`` holds different, except the ``removed`` ones (whose index an Add
    may reuse). Linear in the tree size."""
    gone = set(removed)
    changes: list[LeafChange] = []
    for index, old in before.leaves():
        if index in gone:
            continue
        new = after.leaf(index)
        if new is None:
            raise MembershipError(f"leaf {index} left the tree without a Remove")
        if new != old:
            changes.append(LeafChange(index, old, new))
    return changes


def check_credentials_unchanged(changes: Iterable[LeafChange]) -> None:
    """Raise CredentialChangeError when a rewritten leaf carries another credential than before: otherwise a
    member could take an admin's inbox id and have her messages reported as the admin's."""
    for change in changes:
        if change.after.credential != change.before.credential:
            raise CredentialChangeError(f"leaf {change.index} replaced its credential")


def check_added_leaves(leaves: Iterable[LeafNode], installations_after: Installations) -> None:
    """An added leaf speaks for the inbox its credential names, so its installation must be one of that inbox's
    (being in the expected diff is not enough: it may be another inbox's installation claiming an admin's id)."""
    for leaf in leaves:
        inbox_id = inbox_id_from_credential(leaf.credential)
        check_leaf_update(LeafIdentity(inbox_id, leaf.signature_key), installations_after.get(inbox_id, ()))


def check_changed_installations(changes: Iterable[LeafChange], installations_after: Installations) -> None:
    """Rule 4 for every rewritten leaf: a new signature key must be an installation of the leaf's own inbox at
    that inbox's new sequence id (credentials are already known to be unchanged)."""
    for change in changes:
        if change.after.signature_key == change.before.signature_key:
            continue
        inbox_id = inbox_id_from_credential(change.before.credential)
        keys = installations_after.get(inbox_id, ())
        check_leaf_update(LeafIdentity(inbox_id, change.after.signature_key), keys)
