"""Creating a commit (RFC 9420 §12.4.1): the proposals it covers, an UpdatePath when needed, the signed
message, the next epoch and, for added members, the GroupInfo and Welcome. Nothing changes in the group until
the caller merges the returned :class:`~xmtp_core.mls.processed.StagedCommit`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from xmtp_core.mls import tree_math as tm
from xmtp_core.mls.app_data import AppDataUpdater
from xmtp_core.mls.framing import CONTENT_COMMIT, MLSMessage, Sender
from xmtp_core.mls.group_info import GroupInfo
from xmtp_core.mls.group_state import EpochState, GroupState, apply_app_data
from xmtp_core.mls.message_protection import authenticate
from xmtp_core.mls.processed import StagedCommit
from xmtp_core.mls.proposal_validation import AppliedProposals, ProposalEntry, validate_and_apply
from xmtp_core.mls.proposals import UPDATE, Commit, Proposal, ProposalOrRef
from xmtp_core.mls.treekem import CreatedPath, PathKeys, create_update_path
from xmtp_core.mls.update_path import UpdatePath
from xmtp_core.mls.welcome_crypto import WelcomeRecipient, encrypt_welcome


def create_commit(
    group: GroupState,
    proposals: Sequence[Proposal],
    *,
    include_pending: bool,
    force_path: bool,
    authenticated_data: bytes,
    now: int | None,
    app_data_updater: AppDataUpdater | None,
) -> StagedCommit:
    """A commit over ``group``'s pending proposals (by reference, if ``include_pending``) and ``proposals``
    (by value), staged but not applied."""
    group.require_active()
    s = group.epoch_state
    me = Sender.member(s.own_leaf)
    entries, refs = _covered_proposals(group, proposals, include_pending, me)
    applied = validate_and_apply(group.suite, s.tree, group.group_id, s.context.extensions, entries, me, now=now)
    apply_app_data(applied, app_data_updater)
    path: UpdatePath | None = None
    commit_secret: bytes | None = None
    path_secrets: dict[int, bytes] = {}
    if applied.path_required or force_path:
        created = _create_path(group, applied)
        path, commit_secret, path_secrets = created.update_path, created.commit_secret, created.path_secrets
        new_keys = PathKeys(s.own_leaf, created.keys)
    else:
        new_keys = PathKeys(s.own_leaf, dict(s.path_keys.keys))
        new_keys.prune(applied.tree)
    content = group.framed(CONTENT_COMMIT, authenticated_data, commit=Commit(tuple(refs), path))
    signed = authenticate(group.suite, group.signature_priv, group.handshake_wire_format(), content, s.context)
    new_state = group.next_epoch(applied, commit_secret, signed, new_keys)
    ac = replace(signed, auth=replace(signed.auth, confirmation_tag=new_state.confirmation_tag))
    staged = StagedCommit(me, entries, applied, new_state, group.epoch, path is not None)
    staged.committer_leaf = s.own_leaf
    staged.message = group.protect(ac)
    if applied.added:
        staged.group_info, staged.welcome = _welcome(group, applied, new_state, path_secrets)
    return staged


def _covered_proposals(
    group: GroupState, proposals: Sequence[Proposal], include_pending: bool, me: Sender
) -> tuple[list[ProposalEntry], list[ProposalOrRef]]:
    """What a new commit covers: queued proposals by reference, then ``proposals`` by value."""
    entries: list[ProposalEntry] = []
    refs: list[ProposalOrRef] = []
    if include_pending:
        for p in group.pending_proposals:
            if p.proposal.proposal_type == UPDATE and p.sender == me:
                continue  # the committer's own Update is replaced by its UpdatePath (§12.2)
            entries.append(ProposalEntry(p.proposal, p.sender, p.ref))
            refs.append(ProposalOrRef(reference=p.ref))
    for proposal in proposals:
        entries.append(ProposalEntry(proposal, me))
        refs.append(ProposalOrRef(proposal=proposal))
    return entries, refs


def _create_path(group: GroupState, applied: AppliedProposals) -> CreatedPath:
    """A fresh UpdatePath from this member over the tree the proposals produce (RFC 9420 §7.5, §12.4.1)."""
    own, tree = group.epoch_state.own_leaf, applied.tree
    provisional = group.provisional_context(applied)
    return create_update_path(
        group.suite, tree, own, tree.member_leaf(own), group.signature_priv, group.group_id,
        lambda th: replace(provisional, tree_hash=th).to_bytes(), applied.joiners,
    )  # fmt: skip


def _welcome(
    group: GroupState, applied: AppliedProposals, state: EpochState, path_secrets: dict[int, bytes]
) -> tuple[GroupInfo, MLSMessage]:
    """The GroupInfo and the Welcome for the members ``applied`` adds, each with the path secret of the lowest
    path node above it (RFC 9420 §12.4.3.1)."""
    info = group.group_info(state, group.config.ratchet_tree_extension)
    by_level = sorted(path_secrets, key=tm.level)
    recipients = []
    for leaf_index, kp in applied.added:
        node = next((p for p in by_level if leaf_index in tm.subtree_leaves(p)), None)
        recipients.append(WelcomeRecipient(kp, path_secrets.get(node) if node is not None else None))
    psk = group.commit_psk_secret(applied)
    welcome = encrypt_welcome(group.suite, info, state.secrets.joiner_secret, recipients, tuple(applied.psks), psk)
    return info, MLSMessage.wrap(welcome)
