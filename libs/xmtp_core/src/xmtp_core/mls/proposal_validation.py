"""Validation of leaf nodes (RFC 9420 §7.3), key packages in Add proposals (§10.1) and proposal lists
covered by a commit (§12.2), and application of a valid list to a copy of the tree (§12.4.2 order:
GroupContextExtensions, Update, Remove, Add, PreSharedKey).

A commit may carry thousands of proposals; each is checked against a :class:`MemberIndex` of the tree (keys,
credential types) kept in step with the tree as proposals apply, so a commit costs linear work, not
proposals × members (issue 8)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xmtp_core.mls.errors import ValidationError
from xmtp_core.mls.extensions import (
    EXT_REQUIRED_CAPABILITIES,
    Extension,
    RequiredCapabilities,
    find_extension,
)
from xmtp_core.mls.framing import SENDER_MEMBER, SENDER_NEW_MEMBER_COMMIT, Sender
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.leaf_node import SOURCE_UPDATE, LeafNode
from xmtp_core.mls.proposals import (
    ADD,
    APP_DATA_UPDATE,
    DEFAULT_PROPOSAL_TYPES_SET,
    EXTERNAL_INIT,
    GROUP_CONTEXT_EXTENSIONS,
    PSK,
    REINIT,
    REMOVE,
    UPDATE,
    Proposal,
    ReInit,
)
from xmtp_core.mls.psk import PreSharedKeyID
from xmtp_core.mls.ratchet_tree import RatchetTree

if TYPE_CHECKING:
    from xmtp_core.mls.cipher_suite import CipherSuite


def required_capabilities(extensions: Iterable[Extension]) -> RequiredCapabilities | None:
    """The required_capabilities extension among ``extensions``, decoded, or None."""
    ext = find_extension(extensions, EXT_REQUIRED_CAPABILITIES)
    return RequiredCapabilities.from_bytes(ext.extension_data) if ext is not None else None


class MemberIndex:
    """The members of a tree as the §7.3 uniqueness and credential checks need them, built once (linear) and
    updated by :meth:`add` as a commit's Adds enter the tree."""

    def __init__(self, tree: RatchetTree) -> None:
        self.tree = tree
        self.signature_keys: Counter[bytes] = Counter()
        self.encryption_keys: Counter[bytes] = Counter()  # leaves and parents
        self.credential_types: Counter[int] = Counter()  # credential type -> members holding one
        self.supporting: Counter[int] = Counter()  # credential type -> members whose capabilities list it
        self.members = 0
        for node in tree.nodes:
            if node is not None:
                self.encryption_keys[node.encryption_key] += 1
        for _, leaf in tree.leaves():
            self._count_member(leaf)

    def _count_member(self, leaf: LeafNode) -> None:
        self.members += 1
        self.signature_keys[leaf.signature_key] += 1
        self.credential_types[leaf.credential.credential_type] += 1
        self.supporting.update(leaf.capabilities.credential_set)

    def add(self, leaf: LeafNode) -> None:
        """Count a leaf that has just entered the tree."""
        self.encryption_keys[leaf.encryption_key] += 1
        self._count_member(leaf)

    def check(self, leaf: LeafNode, replaces: int | None) -> None:
        """§7.3: ``leaf`` (replacing member ``replaces``, if any) supports, and is supported by, every other
        member's credential type, and repeats no other member's signature key nor any node's encryption key.

        The counts decide; the offending member is looked up only to name it (-1 should none be found)."""
        old = self.tree.leaf(replaces) if replaces is not None else None
        caps = leaf.capabilities
        t = leaf.credential.credential_type
        others = self.members - (old is not None)
        if self.supporting[t] - (old is not None and t in old.capabilities.credential_set) != others:
            i = next((i for i, m in self._others(replaces) if not m.capabilities.supports_credential(t)), -1)
            raise ValidationError(f"RFC 9420 §7.3: member {i} does not support the new leaf's credential type")
        old_type = old.credential.credential_type if old is not None else None
        others_types = [u for u, n in self.credential_types.items() if n - (u == old_type) > 0]
        if not caps.credential_set.issuperset(others_types):
            supported = caps.credential_set
            i = next((i for i, m in self._others(replaces) if m.credential.credential_type not in supported), -1)
            raise ValidationError(f"RFC 9420 §7.3: new leaf does not support member {i}'s credential type")
        if self.signature_keys[leaf.signature_key] - (old is not None and old.signature_key == leaf.signature_key):
            i = next((i for i, m in self._others(replaces) if m.signature_key == leaf.signature_key), -1)
            raise ValidationError(f"RFC 9420 §7.3: signature key already used by leaf {i}")
        if self.encryption_keys[leaf.encryption_key] - (old is not None and old.encryption_key == leaf.encryption_key):
            x = next(
                (
                    x
                    for x, node in enumerate(self.tree.nodes)
                    if node is not None and node.encryption_key == leaf.encryption_key and x != _node_of(replaces)
                ),
                -1,
            )
            raise ValidationError(f"RFC 9420 §7.3: encryption key already used by node {x}")

    def _others(self, replaces: int | None) -> Iterable[tuple[int, LeafNode]]:
        return ((i, m) for i, m in self.tree.leaves() if i != replaces)


def validate_leaf_node(
    suite: CipherSuite,
    tree: RatchetTree,
    leaf: LeafNode,
    group_extensions: tuple[Extension, ...],
    *,
    group_id: bytes | None,
    leaf_index: int | None,
    replaces: int | None = None,
    now: int | None = None,
    members: MemberIndex | None = None,
    required: RequiredCapabilities | None = None,
    signature_checked: bool = False,
) -> None:
    """RFC 9420 §7.3 checks on a leaf about to enter the tree at ``leaf_index`` (replacing ``replaces``).

    ``members`` (an index of ``tree``) and ``required`` (the group's required capabilities) are computed here
    when not given; callers checking many leaves pass them to keep the work linear. ``signature_checked``
    skips the leaf signature a KeyPackage check has just verified."""
    if not signature_checked:
        leaf.verify(suite, group_id, leaf_index)
    caps = leaf.capabilities
    if suite.suite_id not in caps.cipher_suites:
        raise ValidationError("RFC 9420 §7.3: leaf does not support the group cipher suite")
    if required is None:
        required = required_capabilities(group_extensions)
    if required is not None:
        required.check(caps, "new leaf")
    for ext in leaf.extensions:
        if not caps.supports_extension(ext.extension_type):
            raise ValidationError(f"RFC 9420 §7.3: leaf extension 0x{ext.extension_type:04x} not in its capabilities")
    if now is not None:
        leaf.check_lifetime(now)
    (members or MemberIndex(tree)).check(leaf, replaces)


def _node_of(leaf_index: int | None) -> int:
    return -1 if leaf_index is None else 2 * leaf_index


def validate_key_package(
    suite: CipherSuite,
    tree: RatchetTree,
    kp: KeyPackage,
    group_extensions: tuple[Extension, ...],
    now: int | None,
    *,
    members: MemberIndex | None = None,
    required: RequiredCapabilities | None = None,
) -> None:
    """RFC 9420 §10.1 and §7.3 checks on the KeyPackage of an Add to ``tree``."""
    kp.validate(suite, now)
    validate_leaf_node(
        suite, tree, kp.leaf_node, group_extensions, group_id=None, leaf_index=None, now=now,
        members=members, required=required, signature_checked=True,
    )  # fmt: skip


@dataclass(frozen=True)
class ProposalEntry:
    """A proposal as covered by a commit: who proposed it and, if sent separately, its reference."""

    proposal: Proposal
    sender: Sender
    ref: bytes | None = None


@dataclass
class AppliedProposals:
    """The tree and context changes a validated proposal list produces."""

    tree: RatchetTree
    extensions: tuple[Extension, ...]
    added: list[tuple[int, KeyPackage]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    updated: dict[int, LeafNode] = field(default_factory=dict)
    update_refs: dict[int, bytes] = field(default_factory=dict)
    psks: list[PreSharedKeyID] = field(default_factory=list)
    app_data_updates: list[Proposal] = field(default_factory=list)
    removed_leaves: list[LeafNode] = field(default_factory=list)
    external_init: bytes | None = None  # kem_output of an ExternalInit proposal
    reinit: ReInit | None = None
    path_required: bool = False

    @property
    def joiners(self) -> frozenset[int]:
        """Leaf indices of the members added."""
        return frozenset(i for i, _ in self.added)


def _types(entries: Sequence[ProposalEntry], t: int) -> list[ProposalEntry]:
    return [e for e in entries if e.proposal.proposal_type == t]


def validate_and_apply(
    suite: CipherSuite,
    tree: RatchetTree,
    group_id: bytes,
    group_extensions: tuple[Extension, ...],
    entries: Sequence[ProposalEntry],
    committer: Sender,
    *,
    now: int | None = None,
) -> AppliedProposals:
    """Check a commit's proposal list (RFC 9420 §12.2) and apply it to a copy of ``tree``."""
    _check_list(tree, entries, committer)
    new_tree = tree.copy()
    out = AppliedProposals(new_tree, group_extensions)
    for e in _types(entries, GROUP_CONTEXT_EXTENSIONS):
        _check_group_context_extensions(tree, e.proposal.extensions)
        out.extensions = e.proposal.extensions
    required = required_capabilities(out.extensions)
    updates, adds = _types(entries, UPDATE), _types(entries, ADD)
    old_members = MemberIndex(tree) if updates else None  # Updates are checked against the tree before the commit
    for e in updates:
        leaf = e.proposal.leaf_node
        assert leaf is not None
        sender = e.sender.index
        if leaf.leaf_node_source != SOURCE_UPDATE:
            raise ValidationError("RFC 9420 §12.1.2: Update leaf_node_source must be update")
        validate_leaf_node(
            suite, tree, leaf, out.extensions, group_id=group_id, leaf_index=sender, replaces=sender, now=now,
            members=old_members, required=required,
        )  # fmt: skip
        new_tree.update_leaf(sender, leaf)
        out.updated[sender] = leaf
        if e.ref is not None:
            out.update_refs[sender] = e.ref
    removes = _types(entries, REMOVE)
    for e in removes:
        out.removed_leaves.append(new_tree.member_leaf(e.proposal.removed))
        # _check_list made every removed leaf a distinct member, so truncating once at the end gives the
        # tree that truncating after each Remove would.
        new_tree.remove_leaf(e.proposal.removed, truncate=False)
        out.removed.append(e.proposal.removed)
    if removes:
        new_tree.truncate()
    new_members = MemberIndex(new_tree) if adds else None  # after Updates and Removes, kept up to date below
    for e in adds:
        kp = e.proposal.key_package
        assert kp is not None and new_members is not None
        validate_key_package(suite, new_tree, kp, out.extensions, now, members=new_members, required=required)
        out.added.append((new_tree.add_leaf(kp.leaf_node), kp))
        new_members.add(kp.leaf_node)
    for e in _types(entries, PSK):
        assert e.proposal.psk is not None
        out.psks.append(e.proposal.psk)
    for e in _types(entries, REINIT):
        out.reinit = e.proposal.reinit
    out.app_data_updates = [e.proposal for e in _types(entries, APP_DATA_UPDATE)]
    for e in _types(entries, EXTERNAL_INIT):
        out.external_init = e.proposal.kem_output
    _check_support(new_tree, entries)
    out.path_required = not entries or any(e.proposal.proposal_type not in (ADD, PSK, REINIT) for e in entries)
    return out


def _check_list(tree: RatchetTree, entries: Sequence[ProposalEntry], committer: Sender) -> None:
    removed: set[int] = set()
    for e in _types(entries, REMOVE):
        r = e.proposal.removed
        if tree.leaf(r) is None:
            raise ValidationError(f"RFC 9420 §12.1.3: Remove of leaf {r}, which is blank or outside the tree")
        if r in removed:
            raise ValidationError(f"RFC 9420 §12.2: two Remove proposals for leaf {r}")
        if committer.sender_type == SENDER_MEMBER and r == committer.index:
            raise ValidationError("RFC 9420 §12.2: a commit must not remove the committer")
        removed.add(r)
    updated: set[int] = set()
    for e in _types(entries, UPDATE):
        if e.sender.sender_type != SENDER_MEMBER:
            raise ValidationError("RFC 9420 §12.1.2: Update must come from a member")
        if committer.sender_type == SENDER_MEMBER and e.sender.index == committer.index:
            raise ValidationError("RFC 9420 §12.2: a commit must not cover the committer's own Update")
        if e.sender.index in updated or e.sender.index in removed:
            raise ValidationError(f"RFC 9420 §12.2: leaf {e.sender.index} has several Update/Remove proposals")
        updated.add(e.sender.index)
    _check_unique_adds(tree, entries, removed)
    psk_ids = [e.proposal.psk.to_bytes() for e in _types(entries, PSK) if e.proposal.psk is not None]
    if len(psk_ids) != len(set(psk_ids)):
        raise ValidationError("RFC 9420 §12.2: two PreSharedKey proposals for the same PSK")
    if len(_types(entries, GROUP_CONTEXT_EXTENSIONS)) > 1:
        raise ValidationError("RFC 9420 §12.2: more than one GroupContextExtensions proposal")
    if _types(entries, REINIT) and len(entries) > 1:
        raise ValidationError("RFC 9420 §12.2: a ReInit proposal must be the only proposal")
    externals = _types(entries, EXTERNAL_INIT)
    if committer.sender_type == SENDER_NEW_MEMBER_COMMIT:
        if len(externals) != 1:
            raise ValidationError("RFC 9420 §12.2: an external commit needs exactly one ExternalInit")
    elif externals:
        raise ValidationError("RFC 9420 §12.2: ExternalInit is only allowed in external commits")


def _check_unique_adds(tree: RatchetTree, entries: Sequence[ProposalEntry], removed: set[int]) -> None:
    adds = _types(entries, ADD)
    if not adds:
        return
    staying = {member.signature_key: i for i, member in tree.leaves() if i not in removed}
    seen: set[bytes] = set()
    for e in adds:
        kp = e.proposal.key_package
        assert kp is not None
        key = kp.leaf_node.signature_key
        if key in seen:
            raise ValidationError("RFC 9420 §12.2: two Add proposals with the same signature key")
        seen.add(key)
        if key in staying:
            raise ValidationError(f"RFC 9420 §12.2: Add for a signature key already at leaf {staying[key]}")


# Both checks below test a set of types against each member with a subset test, which compares sizes first:
# each member costs at most its own capabilities list, whatever the number of types the attacker lists.
def _check_group_context_extensions(tree: RatchetTree, extensions: tuple[Extension, ...]) -> None:
    required = required_capabilities(extensions)
    types = frozenset(ext.extension_type for ext in extensions)
    for i, leaf in tree.leaves():
        if not types <= leaf.capabilities.extension_set:
            missing = min(types - leaf.capabilities.extension_set)
            raise ValidationError(f"RFC 9420 §12.1.7: member {i} does not support extension 0x{missing:04x}")
        if required is not None:
            required.check(leaf.capabilities, f"member {i}")


def _check_support(tree: RatchetTree, entries: Sequence[ProposalEntry]) -> None:
    types = frozenset(e.proposal.proposal_type for e in entries) - DEFAULT_PROPOSAL_TYPES_SET
    if not types:
        return
    for i, leaf in tree.leaves():
        if not types <= leaf.capabilities.proposal_set:
            missing = min(types - leaf.capabilities.proposal_set)
            raise ValidationError(f"RFC 9420 §12.2: member {i} does not support proposal type {missing}")
