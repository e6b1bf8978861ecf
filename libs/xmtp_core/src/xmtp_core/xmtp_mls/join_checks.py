"""libxmtp's checks on a group it is joining, as pure functions (reference §6(c), "Welcome joiner check").

* :func:`validate_dm` — a DM must have type DM, ``dm_members`` = {inviter, us}, empty admin and super-admin
  lists and exactly the DM policy set, so nobody can later add a third member.
* :func:`check_initial_membership` — every tree leaf's (inbox from credential, signature key) must be an
  installation of that inbox in its association state at the sequence id the GroupMembership records, and
  every installation the membership implies must be in the tree or listed in ``failed_installations``.

The association states come from the caller (``xmtp_core.identity``), so this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from xmtp_core.mls.leaf_node import LeafNode
from xmtp_core.xmtp_mls.credential import inbox_id_from_credential
from xmtp_core.xmtp_mls.errors import ExtensionError, MembershipError
from xmtp_core.xmtp_mls.extensions import GroupExtensions, GroupMembership
from xmtp_core.xmtp_mls.policies import dm_policy


@dataclass(frozen=True)
class LeafIdentity:
    """A leaf as XMTP sees it: the inbox from its credential and its installation key."""

    inbox_id: str
    installation_key: bytes


def leaf_identities(leaves: Iterable[LeafNode]) -> list[LeafIdentity]:
    """(inbox id from the MlsCredential, installation key = signature key) for each member leaf."""
    return [LeafIdentity(inbox_id_from_credential(leaf.credential), leaf.signature_key) for leaf in leaves]


def validate_dm(view: GroupExtensions, inviter_inbox_id: str, own_inbox_id: str) -> None:
    """Raise ExtensionError unless ``view`` is a DM between the inviter and us that nobody can widen."""
    if not view.is_dm or view.metadata.dm_members is None:
        raise ExtensionError("not a DM: conversation type must be DM with dm_members")
    if set(view.metadata.dm_members) != {inviter_inbox_id, own_inbox_id} or inviter_inbox_id == own_inbox_id:
        raise ExtensionError("DM dm_members must be exactly the inviter and this inbox")
    if view.mutable.admins or view.mutable.super_admins:
        raise ExtensionError("a DM must have no admins or super admins")
    if view.permissions != dm_policy():
        raise ExtensionError("a DM must carry exactly the DM policy set")


def check_initial_membership(
    membership: GroupMembership,
    leaves: Iterable[LeafIdentity],
    installations: Mapping[str, Iterable[bytes]],
) -> None:
    """Raise MembershipError unless the tree matches the membership and the identity states.

    ``installations`` maps each inbox in the membership to its installation keys at the recorded sequence id.
    """
    allowed = {inbox: set(keys) for inbox, keys in installations.items()}
    missing_states = set(membership.members) - set(allowed)
    if missing_states:
        raise MembershipError(f"no association state given for {sorted(missing_states)}")
    in_tree: set[bytes] = set()
    for leaf in leaves:
        if leaf.inbox_id not in membership.members:
            raise MembershipError(f"leaf inbox {leaf.inbox_id} is not in the group membership")
        if leaf.installation_key not in allowed[leaf.inbox_id]:
            raise MembershipError(
                f"installation {leaf.installation_key.hex()} is not in inbox {leaf.inbox_id} "
                f"at sequence id {membership.members[leaf.inbox_id]}"
            )
        in_tree.add(leaf.installation_key)
    expected = set().union(*(allowed[inbox] for inbox in membership.members))
    absent = expected - in_tree - set(membership.failed_installations)
    if absent:
        raise MembershipError(f"installations missing from the tree: {sorted(k.hex() for k in absent)}")
