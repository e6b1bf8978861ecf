"""XMTP group permission policies (the 0xFF02 ``GroupMutablePermissionsV1`` / ``PolicySet``) and their
evaluation, following libxmtp's ``group_permissions.rs``.

A policy is a base rule or an and/any combination of policies. Membership, metadata and permissions policies
share that shape but have their own base enums. Presets: All Members (libxmtp "default"), Admin Only, and the
DM set. :func:`evaluate_commit` applies a PolicySet to what a commit changes (see ``changes.GroupChanges``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Generic, TypeVar

from google.protobuf.message import DecodeError as ProtoDecodeError

from xmtp_core.protos.mls.message_contents import group_permissions_pb2 as pb
from xmtp_core.xmtp_mls.errors import PolicyError

SUPER_ADMIN_METADATA_PREFIX = "_"


class MembershipBase(IntEnum):
    """Base rules for adding or removing members."""

    ALLOW = 1
    DENY = 2
    ALLOW_IF_ADMIN_OR_SUPER_ADMIN = 3
    ALLOW_IF_SUPER_ADMIN = 4


class MetadataBase(IntEnum):
    """Base rules for changing a metadata field."""

    ALLOW = 1
    DENY = 2
    ALLOW_IF_ADMIN = 3  # admin or super admin
    ALLOW_IF_SUPER_ADMIN = 4


class PermissionsBase(IntEnum):
    """Base rules for admin lists and the policy set itself."""

    DENY = 1
    ALLOW_IF_ADMIN = 2  # admin or super admin
    ALLOW_IF_SUPER_ADMIN = 3


class MetadataField:
    """Metadata attribute keys libxmtp knows (``MetadataField``)."""

    GROUP_NAME = "group_name"
    DESCRIPTION = "description"
    GROUP_IMAGE_URL_SQUARE = "group_image_url_square"
    MESSAGE_DISAPPEAR_FROM_NS = "message_disappear_from_ns"
    MESSAGE_DISAPPEAR_IN_NS = "message_disappear_in_ns"
    MINIMUM_SUPPORTED_PROTOCOL_VERSION = "minimum_supported_protocol_version"
    APP_DATA = "app_data"
    COMMIT_LOG_SIGNER = "_commit_log_signer"


# Fields that get a policy in a new group (`GroupMutableMetadata::supported_fields`, HEAD).
SUPPORTED_METADATA_FIELDS = (
    MetadataField.GROUP_NAME,
    MetadataField.DESCRIPTION,
    MetadataField.GROUP_IMAGE_URL_SQUARE,
    MetadataField.MESSAGE_DISAPPEAR_FROM_NS,
    MetadataField.MESSAGE_DISAPPEAR_IN_NS,
    MetadataField.MINIMUM_SUPPORTED_PROTOCOL_VERSION,
    MetadataField.APP_DATA,
)

B = TypeVar("B", MembershipBase, MetadataBase, PermissionsBase)


@dataclass(frozen=True)
class Policy(Generic[B]):
    """Exactly one of: a base rule, all of ``all_of``, or any of ``any_of``."""

    base: B | None = None
    all_of: tuple[Policy[B], ...] = ()
    any_of: tuple[Policy[B], ...] = ()

    def __post_init__(self) -> None:
        kinds = (self.base is not None) + bool(self.all_of) + bool(self.any_of)
        if kinds != 1:
            raise PolicyError("a policy is exactly one of base, and_condition (non-empty), any_condition (non-empty)")


@dataclass(frozen=True)
class Actor:
    """Who made the change, with their roles in the group *before* the commit."""

    inbox_id: str
    is_admin: bool = False
    is_super_admin: bool = False


@dataclass(frozen=True)
class PolicySet:
    """A group's permission policies, one per kind of change (metadata per field)."""

    add_member: Policy[MembershipBase]
    remove_member: Policy[MembershipBase]
    update_metadata: Mapping[str, Policy[MetadataBase]]
    add_admin: Policy[PermissionsBase]
    remove_admin: Policy[PermissionsBase]
    update_permissions: Policy[PermissionsBase]


def base(rule: B) -> Policy[B]:
    """A policy made of one base rule."""
    return Policy(base=rule)


def _membership_allows(rule: MembershipBase, actor: Actor) -> bool:
    return {
        MembershipBase.ALLOW: True,
        MembershipBase.DENY: False,
        MembershipBase.ALLOW_IF_ADMIN_OR_SUPER_ADMIN: actor.is_admin or actor.is_super_admin,
        MembershipBase.ALLOW_IF_SUPER_ADMIN: actor.is_super_admin,
    }[rule]


def _metadata_allows(rule: MetadataBase, actor: Actor) -> bool:
    return {
        MetadataBase.ALLOW: True,
        MetadataBase.DENY: False,
        MetadataBase.ALLOW_IF_ADMIN: actor.is_admin or actor.is_super_admin,
        MetadataBase.ALLOW_IF_SUPER_ADMIN: actor.is_super_admin,
    }[rule]


def _permissions_allows(rule: PermissionsBase, actor: Actor) -> bool:
    return {
        PermissionsBase.DENY: False,
        PermissionsBase.ALLOW_IF_ADMIN: actor.is_admin or actor.is_super_admin,
        PermissionsBase.ALLOW_IF_SUPER_ADMIN: actor.is_super_admin,
    }[rule]


def _evaluate(policy: Policy[B], actor: Actor, allows: Callable[[B, Actor], bool]) -> bool:
    if policy.base is not None:
        return allows(policy.base, actor)
    if policy.all_of:
        return all(_evaluate(p, actor, allows) for p in policy.all_of)
    return any(_evaluate(p, actor, allows) for p in policy.any_of)


def membership_allows(policy: Policy[MembershipBase], actor: Actor) -> bool:
    """Whether ``actor`` may add/remove members under ``policy``."""
    return _evaluate(policy, actor, _membership_allows)


def metadata_allows(policy: Policy[MetadataBase], actor: Actor) -> bool:
    """Whether ``actor`` may change a metadata field under ``policy``."""
    return _evaluate(policy, actor, _metadata_allows)


def permissions_allows(policy: Policy[PermissionsBase], actor: Actor) -> bool:
    """Whether ``actor`` may change admins or permissions under ``policy``."""
    return _evaluate(policy, actor, _permissions_allows)


def metadata_policy_for(policy_set: PolicySet, field_name: str) -> Policy[MetadataBase]:
    """The field's policy; unlisted fields are super-admin-only if they start with "_", else admin-only."""
    found = policy_set.update_metadata.get(field_name)
    if found is not None:
        return found
    if field_name.startswith(SUPER_ADMIN_METADATA_PREFIX):
        return base(MetadataBase.ALLOW_IF_SUPER_ADMIN)
    return base(MetadataBase.ALLOW_IF_ADMIN)


# Presets -----------------------------------------------------------------------------------------------------


def _metadata_map(default: MetadataBase) -> dict[str, Policy[MetadataBase]]:
    rules = {field_name: default for field_name in SUPPORTED_METADATA_FIELDS}
    rules[MetadataField.MESSAGE_DISAPPEAR_FROM_NS] = MetadataBase.ALLOW_IF_ADMIN
    rules[MetadataField.MESSAGE_DISAPPEAR_IN_NS] = MetadataBase.ALLOW_IF_ADMIN
    rules[MetadataField.MINIMUM_SUPPORTED_PROTOCOL_VERSION] = MetadataBase.ALLOW_IF_SUPER_ADMIN
    return {name: base(rule) for name, rule in rules.items()}


def all_members_policy() -> PolicySet:
    """libxmtp's default ("All Members"): anyone adds, admins remove, super admins manage admins/permissions."""
    return PolicySet(
        add_member=base(MembershipBase.ALLOW),
        remove_member=base(MembershipBase.ALLOW_IF_ADMIN_OR_SUPER_ADMIN),
        update_metadata=_metadata_map(MetadataBase.ALLOW),
        add_admin=base(PermissionsBase.ALLOW_IF_SUPER_ADMIN),
        remove_admin=base(PermissionsBase.ALLOW_IF_SUPER_ADMIN),
        update_permissions=base(PermissionsBase.ALLOW_IF_SUPER_ADMIN),
    )


def admin_only_policy() -> PolicySet:
    """libxmtp's admin-only preset: admins manage members and metadata, super admins the rest."""
    return PolicySet(
        add_member=base(MembershipBase.ALLOW_IF_ADMIN_OR_SUPER_ADMIN),
        remove_member=base(MembershipBase.ALLOW_IF_ADMIN_OR_SUPER_ADMIN),
        update_metadata=_metadata_map(MetadataBase.ALLOW_IF_ADMIN),
        add_admin=base(PermissionsBase.ALLOW_IF_SUPER_ADMIN),
        remove_admin=base(PermissionsBase.ALLOW_IF_SUPER_ADMIN),
        update_permissions=base(PermissionsBase.ALLOW_IF_SUPER_ADMIN),
    )


def dm_policy() -> PolicySet:
    """``PolicySet::new_dm``: nobody adds/removes or manages admins/permissions; every metadata field is ALLOW."""
    return PolicySet(
        add_member=base(MembershipBase.DENY),
        remove_member=base(MembershipBase.DENY),
        update_metadata={name: base(MetadataBase.ALLOW) for name in SUPPORTED_METADATA_FIELDS},
        add_admin=base(PermissionsBase.DENY),
        remove_admin=base(PermissionsBase.DENY),
        update_permissions=base(PermissionsBase.DENY),
    )


def _admin_roles_are(policy_set: PolicySet, add: MembershipBase, remove: MembershipBase) -> bool:
    super_admin = base(PermissionsBase.ALLOW_IF_SUPER_ADMIN)
    return (
        policy_set.add_member == base(add)
        and policy_set.remove_member == base(remove)
        and policy_set.add_admin == super_admin
        and policy_set.remove_admin == super_admin
        and policy_set.update_permissions == super_admin
    )


def _metadata_matches(policy_set: PolicySet, default: MetadataBase) -> bool:
    # Only the fields present are compared: groups from older clients list fewer fields (libxmtp does the same).
    expected = _metadata_map(default)
    return all(policy == expected.get(name, base(default)) for name, policy in policy_set.update_metadata.items())


def preset_name(policy_set: PolicySet) -> str:
    """ "all_members", "admin_only" or "custom", the way libxmtp's ``PreconfiguredPolicies`` classifies a set."""
    allow, admin = MembershipBase.ALLOW, MembershipBase.ALLOW_IF_ADMIN_OR_SUPER_ADMIN
    if _admin_roles_are(policy_set, allow, admin) and _metadata_matches(policy_set, MetadataBase.ALLOW):
        return "all_members"
    if _admin_roles_are(policy_set, admin, admin) and _metadata_matches(policy_set, MetadataBase.ALLOW_IF_ADMIN):
        return "admin_only"
    return "custom"


# Proto -------------------------------------------------------------------------------------------------------


def _to_proto(
    policy: Policy[B], msg_type: type[pb.MembershipPolicy] | type[pb.MetadataPolicy] | type[pb.PermissionsUpdatePolicy]
) -> object:
    if policy.base is not None:
        return msg_type(base=int(policy.base))  # type: ignore[arg-type]
    if policy.all_of:
        children = [_to_proto(p, msg_type) for p in policy.all_of]
        return msg_type(and_condition=msg_type.AndCondition(policies=children))  # type: ignore[arg-type]
    children = [_to_proto(p, msg_type) for p in policy.any_of]
    return msg_type(any_condition=msg_type.AnyCondition(policies=children))  # type: ignore[arg-type]


def _from_proto(msg: object, enum: type[B], what: str) -> Policy[B]:
    which = msg.WhichOneof("kind")  # type: ignore[attr-defined]
    if which == "base":
        try:
            return Policy(base=enum(int(msg.base)))  # type: ignore[attr-defined]
        except ValueError:
            raise PolicyError(f"invalid {what} base policy {msg.base}") from None  # type: ignore[attr-defined]
    if which in ("and_condition", "any_condition"):
        children = tuple(_from_proto(p, enum, what) for p in getattr(msg, which).policies)
        if not children:
            raise PolicyError(f"empty {what} {which}")
        return Policy(all_of=children) if which == "and_condition" else Policy(any_of=children)
    raise PolicyError(f"{what} policy has no kind")


def policy_set_to_proto(policy_set: PolicySet) -> pb.PolicySet:
    """The PolicySet proto of ``policy_set``."""
    msg = pb.PolicySet(
        add_member_policy=_to_proto(policy_set.add_member, pb.MembershipPolicy),  # type: ignore[arg-type]
        remove_member_policy=_to_proto(policy_set.remove_member, pb.MembershipPolicy),  # type: ignore[arg-type]
        add_admin_policy=_to_proto(policy_set.add_admin, pb.PermissionsUpdatePolicy),  # type: ignore[arg-type]
        remove_admin_policy=_to_proto(policy_set.remove_admin, pb.PermissionsUpdatePolicy),  # type: ignore[arg-type]
        update_permissions_policy=_to_proto(policy_set.update_permissions, pb.PermissionsUpdatePolicy),  # type: ignore[arg-type]
    )
    for name, policy in policy_set.update_metadata.items():
        msg.update_metadata_policy[name].CopyFrom(_to_proto(policy, pb.MetadataPolicy))  # type: ignore[arg-type]
    return msg


def _required(msg: pb.PolicySet, field_name: str) -> object:
    if not msg.HasField(field_name):
        raise PolicyError(f"PolicySet has no {field_name}")
    return getattr(msg, field_name)


def policy_set_from_proto(msg: pb.PolicySet) -> PolicySet:
    """Parse a PolicySet proto; PolicyError when a policy is missing or malformed."""
    return PolicySet(
        add_member=_from_proto(_required(msg, "add_member_policy"), MembershipBase, "add member"),
        remove_member=_from_proto(_required(msg, "remove_member_policy"), MembershipBase, "remove member"),
        update_metadata={
            name: _from_proto(p, MetadataBase, f"metadata {name!r}") for name, p in msg.update_metadata_policy.items()
        },
        add_admin=_from_proto(_required(msg, "add_admin_policy"), PermissionsBase, "add admin"),
        remove_admin=_from_proto(_required(msg, "remove_admin_policy"), PermissionsBase, "remove admin"),
        update_permissions=_from_proto(
            _required(msg, "update_permissions_policy"), PermissionsBase, "update permissions"
        ),
    )


def encode_permissions(policy_set: PolicySet) -> bytes:
    """0xFF02 extension data: ``GroupMutablePermissionsV1{policies}`` bytes."""
    return pb.GroupMutablePermissionsV1(policies=policy_set_to_proto(policy_set)).SerializeToString()


def decode_permissions(data: bytes) -> PolicySet:
    """0xFF02 extension data to a PolicySet; PolicyError when malformed."""
    msg = pb.GroupMutablePermissionsV1()
    try:
        msg.ParseFromString(data)
    except ProtoDecodeError as exc:
        raise PolicyError(f"0xFF02 is not a GroupMutablePermissionsV1 proto: {exc}") from exc
    if not msg.HasField("policies"):
        raise PolicyError("GroupMutablePermissionsV1 has no policies")
    return policy_set_from_proto(msg.policies)


# Commit evaluation -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxChange:
    """An inbox added or removed by a commit, with its roles before the commit."""

    inbox_id: str
    is_admin: bool = False
    is_super_admin: bool = False


@dataclass(frozen=True)
class FieldChange:
    """One metadata attribute a commit changed (None: absent before / after)."""

    field_name: str
    old_value: str | None
    new_value: str | None


@dataclass(frozen=True)
class CommitSummary:
    """What one commit does, as libxmtp's ``ValidatedCommit`` sees it (single actor per commit)."""

    actor: Actor
    added_inboxes: tuple[InboxChange, ...] = ()
    removed_inboxes: tuple[InboxChange, ...] = ()
    metadata_changes: tuple[FieldChange, ...] = ()
    admins_added: tuple[str, ...] = ()
    admins_removed: tuple[str, ...] = ()
    super_admins_added: tuple[str, ...] = ()
    super_admins_removed: tuple[str, ...] = ()
    num_super_admins: int = 0  # after the commit
    permissions_changed: bool = False
    dm_members: tuple[str, str] | None = None


@dataclass(frozen=True)
class PolicyDecision:
    """The outcome of evaluating a commit: the violated policies, if any."""

    violations: tuple[str, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        """True when no policy was violated."""
        return not self.violations


def _dm_peer_add(summary: CommitSummary) -> bool:
    """A DM may always gain its other dm_member (the inviter adds the peer), whatever the policy says."""
    if summary.dm_members is None or len(summary.added_inboxes) != 1:
        return False
    added = summary.added_inboxes[0].inbox_id
    return added in summary.dm_members and added != summary.actor.inbox_id


def _membership_violations(policy_set: PolicySet, summary: CommitSummary) -> list[str]:
    actor, out = summary.actor, []
    adds_ok = all(membership_allows(policy_set.add_member, actor) for _ in summary.added_inboxes)
    if not adds_ok and not _dm_peer_add(summary):
        out.append("add member policy denies the actor")
    if not all(membership_allows(policy_set.remove_member, actor) for _ in summary.removed_inboxes):
        out.append("remove member policy denies the actor")
    if any(inbox.is_super_admin for inbox in summary.removed_inboxes):
        out.append("a super admin cannot be removed")
    return out


def _metadata_violations(policy_set: PolicySet, summary: CommitSummary) -> list[str]:
    return [
        f"metadata policy for {change.field_name!r} denies the actor"
        for change in summary.metadata_changes
        if not metadata_allows(metadata_policy_for(policy_set, change.field_name), summary.actor)
    ]


def _role_violations(policy_set: PolicySet, summary: CommitSummary) -> list[str]:
    actor, out = summary.actor, []
    if summary.admins_added and not permissions_allows(policy_set.add_admin, actor):
        out.append("add admin policy denies the actor")
    if summary.admins_removed and not permissions_allows(policy_set.remove_admin, actor):
        out.append("remove admin policy denies the actor")
    if summary.super_admins_added and not actor.is_super_admin:
        out.append("only a super admin can add super admins")
    if summary.super_admins_removed and not (actor.is_super_admin and summary.num_super_admins > 0):
        out.append("only a super admin can remove super admins, and never the last one")
    # libxmtp checks the super-admin flag here, not update_permissions_policy.
    if summary.permissions_changed and not actor.is_super_admin:
        out.append("only a super admin can change permissions")
    return out


def evaluate_commit(policy_set: PolicySet, summary: CommitSummary) -> PolicyDecision:
    """Apply ``policy_set`` (the group's policies before the commit) to a commit summary."""
    violations = (
        _membership_violations(policy_set, summary)
        + _metadata_violations(policy_set, summary)
        + _role_violations(policy_set, summary)
    )
    return PolicyDecision(tuple(violations))
