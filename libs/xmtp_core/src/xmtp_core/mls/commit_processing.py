"""Processing a received group message (RFC 9420 §6, §12.4.2): unprotect and authenticate it, then return
application data, queue a proposal, or validate a commit (its proposals, UpdatePath and confirmation tag)
into a :class:`~xmtp_core.mls.processed.StagedCommit` the caller merges. Size limits the caller gives are
checked before the costly work."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls import tree_math as tm
from xmtp_core.mls.app_data import AppDataUpdater
from xmtp_core.mls.cipher_suite import CipherSuite
from xmtp_core.mls.errors import EpochError, LimitError, ValidationError
from xmtp_core.mls.framing import (
    CONTENT_APPLICATION,
    CONTENT_COMMIT,
    CONTENT_PROPOSAL,
    SENDER_NEW_MEMBER_COMMIT,
    WIRE_PRIVATE_MESSAGE,
    AuthenticatedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Sender,
)
from xmtp_core.mls.group_state import GroupState, PastEpoch, PendingProposal, apply_app_data
from xmtp_core.mls.leaf_node import LeafNode
from xmtp_core.mls.message_protection import decrypt_private, decrypt_sender_data, from_public_message, verify_content
from xmtp_core.mls.processed import ApplicationMessage, ProcessedMessage, ProposalMessage, StagedCommit
from xmtp_core.mls.proposal_validation import (
    AppliedProposals,
    ProposalEntry,
    required_capabilities,
    validate_and_apply,
    validate_leaf_node,
)
from xmtp_core.mls.proposals import ADD, REMOVE, UPDATE, ProposalOrRef
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.treekem import PathKeys, decrypt_update_path, merge_update_path
from xmtp_core.mls.update_path import UpdatePath


def process_message(
    group: GroupState,
    message: MLSMessage | bytes,
    *,
    now: int | None,
    app_data_updater: AppDataUpdater | None,
    max_leaves: int | None,
    max_proposals: int | None,
) -> ProcessedMessage:
    """Unprotect and validate a PublicMessage or PrivateMessage for ``group`` (see ``Group.process_message``)."""
    group.require_active()
    if isinstance(message, bytes):
        message = MLSMessage.from_bytes(message)
    body = message.body
    if isinstance(body, PrivateMessage):
        ac = _open_private(group, body)
    elif isinstance(body, PublicMessage):
        ac = _open_public(group, body)
    else:
        raise ValidationError("RFC 9420 §6: only PublicMessage and PrivateMessage are group messages")
    content = ac.content
    if content.content_type == CONTENT_APPLICATION:
        if ac.wire_format != WIRE_PRIVATE_MESSAGE:
            raise ValidationError("RFC 9420 §6.2: application data must not be sent as a PublicMessage")
        return ApplicationMessage(
            content.sender.index, content.epoch, content.application_data, content.authenticated_data
        )
    if content.content_type == CONTENT_PROPOSAL:
        if max_proposals is not None and len(group.pending_proposals) >= max_proposals:
            raise LimitError(f"more than {max_proposals} pending proposals")
        return _receive_proposal(group, ac, now)
    return _stage_commit(group, ac, now, app_data_updater, max_leaves, max_proposals)


def peek_sender(group: GroupState, message: MLSMessage) -> Sender:
    """The sender of a group message without consuming any key (see ``Group.peek_sender``)."""
    body = message.body
    if isinstance(body, PublicMessage):
        return body.content.sender
    if not isinstance(body, PrivateMessage):
        raise ValidationError("RFC 9420 §6: only PublicMessage and PrivateMessage have a sender")
    _check_group(group, body.group_id)
    if body.epoch == group.epoch:
        secret = group.epoch_state.secrets.sender_data_secret
    else:
        secret = _past_epoch(group, body.epoch).sender_data_secret
    return Sender.member(decrypt_sender_data(group.suite, body, secret).leaf_index)


def _check_group(group: GroupState, group_id: bytes) -> None:
    if group_id != group.group_id:
        raise ValidationError("RFC 9420 §6: message is for another group")


def _wrong_epoch(group: GroupState, epoch: int) -> EpochError:
    return EpochError(f"RFC 9420 §6: message for epoch {epoch}, group is at epoch {group.epoch}")


def _past_epoch(group: GroupState, epoch: int) -> PastEpoch:
    """A retained earlier epoch; EpochError if ``epoch`` is neither retained nor current."""
    past = next((p for p in group.past_epochs if p.context.epoch == epoch), None)
    if past is None:
        raise _wrong_epoch(group, epoch)
    return past


def _open_private(group: GroupState, msg: PrivateMessage) -> AuthenticatedContent:
    _check_group(group, msg.group_id)
    s = group.epoch_state
    if msg.epoch == group.epoch:
        ac = decrypt_private(group.suite, msg, s.secret_tree, s.secrets.sender_data_secret)
        verify_content(group.suite, group.signature_key(ac.content.sender), ac, s.context)
        return ac
    if msg.content_type != CONTENT_APPLICATION:
        raise _wrong_epoch(group, msg.epoch)  # only application messages are read in past epochs
    past = _past_epoch(group, msg.epoch)
    ac = decrypt_private(group.suite, msg, past.secret_tree, past.sender_data_secret)
    key = past.signature_keys.get(ac.content.sender.index)
    if key is None:
        raise ValidationError("RFC 9420 §6: sender was not a member in that epoch")
    verify_content(group.suite, key, ac, past.context)
    return ac


def _open_public(group: GroupState, msg: PublicMessage) -> AuthenticatedContent:
    _check_group(group, msg.content.group_id)
    if msg.content.epoch != group.epoch:
        raise _wrong_epoch(group, msg.content.epoch)
    s = group.epoch_state
    ac = from_public_message(group.suite, msg, s.secrets.membership_key, s.context)
    content = ac.content
    if content.sender.sender_type == SENDER_NEW_MEMBER_COMMIT:
        # An external committer signs with the key of the leaf its UpdatePath brings (RFC 9420 §6.1).
        if content.content_type != CONTENT_COMMIT or content.commit is None or content.commit.path is None:
            raise ValidationError("RFC 9420 §12.4.3.2: a new_member_commit must be a commit with a path")
        key = content.commit.path.leaf_node.signature_key
    else:
        key = group.signature_key(content.sender)
    verify_content(group.suite, key, ac, s.context)
    return ac


def _receive_proposal(group: GroupState, ac: AuthenticatedContent, now: int | None) -> ProposalMessage:
    proposal = ac.content.proposal
    assert proposal is not None
    sender = ac.content.sender
    s = group.epoch_state
    if proposal.proposal_type == UPDATE:
        assert proposal.leaf_node is not None
        validate_leaf_node(
            group.suite, s.tree, proposal.leaf_node, s.context.extensions,
            group_id=group.group_id, leaf_index=sender.index, replaces=sender.index, now=now,
        )  # fmt: skip
    elif proposal.proposal_type == ADD:
        assert proposal.key_package is not None
        proposal.key_package.validate(group.suite, now)
    ref = group.proposal_ref(ac)
    group.pending_proposals.append(PendingProposal(ref, proposal, sender))
    return ProposalMessage(sender, ref, proposal)


def _stage_commit(
    group: GroupState,
    ac: AuthenticatedContent,
    now: int | None,
    app_data_updater: AppDataUpdater | None,
    max_leaves: int | None,
    max_proposals: int | None,
) -> StagedCommit:
    s = group.epoch_state
    sender = ac.content.sender
    commit = ac.content.commit
    assert commit is not None
    if max_proposals is not None and len(commit.proposals) > max_proposals:
        raise LimitError(f"commit has {len(commit.proposals)} proposals, more than {max_proposals}")
    external = sender.sender_type == SENDER_NEW_MEMBER_COMMIT
    if not external and sender.index == s.own_leaf:
        raise ValidationError("RFC 9420 §12.4.2: own commit; merge the StagedCommit returned by commit()")
    if external and any(por.proposal is None for por in commit.proposals):
        raise ValidationError("RFC 9420 §12.4.3.2: an external commit must not include proposals by reference")
    pending = {p.ref: p for p in group.pending_proposals}
    entries = [_resolve(por, sender, pending) for por in commit.proposals]
    if max_leaves is not None:
        _check_member_limit(s.tree, entries, external, max_leaves)
    applied = validate_and_apply(group.suite, s.tree, group.group_id, s.context.extensions, entries, sender, now=now)
    if max_leaves is not None and applied.tree.leaf_span() > max_leaves:
        raise LimitError(f"commit puts a member beyond leaf index {max_leaves - 1}")
    apply_app_data(applied, app_data_updater)
    if applied.path_required and commit.path is None:
        raise ValidationError("RFC 9420 §12.4: this commit's proposals require an UpdatePath")
    committer = sender.index
    init_secret = None
    if external:
        assert commit.path is not None
        committer, init_secret = _external_committer(group, applied, commit.path.leaf_node)
    self_removed = s.own_leaf in applied.removed
    keys = _receiver_keys(group, applied)
    commit_secret = None
    if commit.path is not None:
        commit_secret = _process_path(group, applied, committer, commit.path, keys, decrypt=not self_removed)
    new_state = group.next_epoch(applied, commit_secret, ac, keys, init_secret)
    if self_removed:
        # A removed member cannot derive the new epoch, so nothing of it is kept (RFC 9420 §12.1.3).
        new_state.path_keys = PathKeys(s.own_leaf, {})
    elif not hmac.compare_digest(ac.auth.confirmation_tag or b"", new_state.confirmation_tag):
        raise ValidationError("RFC 9420 §12.4.2: confirmation_tag does not verify")
    staged = StagedCommit(sender, entries, applied, new_state, group.epoch, commit.path is not None, self_removed)
    staged.committer_leaf = committer
    return staged


def _process_path(
    group: GroupState, applied: AppliedProposals, committer: int, path: UpdatePath, keys: PathKeys, *, decrypt: bool
) -> bytes | None:
    """Merge a received UpdatePath into the new tree, check the committer's leaf and, unless this member is
    being removed, decrypt the path to the commit secret (RFC 9420 §7.3, §12.4.2)."""
    merge_update_path(group.suite, applied.tree, committer, path, group.group_id)
    _check_path_leaf(group.suite, group.epoch_state.tree, applied.tree, committer, applied)
    if not decrypt:
        return None
    context = group.provisional_context(applied).to_bytes()
    secret, _ = decrypt_update_path(group.suite, applied.tree, keys, committer, path, context, applied.joiners)
    return secret


def _external_committer(group: GroupState, applied: AppliedProposals, leaf: LeafNode) -> tuple[int, bytes]:
    """Place an external committer's leaf and recover the init_secret from ExternalInit (RFC 9420 §8.3)."""
    for removed in applied.removed_leaves:
        if removed.credential != leaf.credential:
            raise ValidationError("RFC 9420 §12.4.3.2: an external commit may only remove its own old leaf")
    assert applied.external_init is not None
    external_priv, _ = ks.external_key_pair(group.suite, group.epoch_state.secrets.external_secret)
    init_secret = group.suite.hpke_export(
        external_priv, applied.external_init, b"", ks.EXTERNAL_INIT_EXPORT_LABEL, group.suite.hash_len
    )
    return applied.tree.add_leaf(leaf), init_secret


def _receiver_keys(group: GroupState, applied: AppliedProposals) -> PathKeys:
    """This member's private keys after the proposals: an Update of its own leaf brings the new leaf key."""
    s = group.epoch_state
    keys = PathKeys(s.own_leaf, dict(s.path_keys.keys))
    own_update = applied.update_refs.get(s.own_leaf)
    if own_update is not None and own_update in group.pending_update_keys:
        keys.keys[tm.leaf_to_node(s.own_leaf)] = group.pending_update_keys[own_update]
    if s.own_leaf not in applied.removed:
        keys.prune(applied.tree)
    return keys


def _resolve(por: ProposalOrRef, sender: Sender, pending: dict[bytes, PendingProposal]) -> ProposalEntry:
    if por.proposal is not None:
        return ProposalEntry(por.proposal, sender)
    found = pending.get(por.reference) if por.reference is not None else None
    if found is None:
        raise ValidationError("RFC 9420 §12.4.2: commit references an unknown proposal")
    return ProposalEntry(found.proposal, found.sender, found.ref)


def _check_member_limit(tree: RatchetTree, entries: Sequence[ProposalEntry], external: bool, max_leaves: int) -> None:
    """Refuse, before any Add is validated, a commit that leaves more than ``max_leaves`` members."""
    members = sum(1 for _ in tree.leaves()) + external  # an external committer brings its own leaf
    for e in entries:
        t = e.proposal.proposal_type
        members += (t == ADD) - (t == REMOVE)
    if members > max_leaves:
        raise LimitError(f"commit leaves {members} members, more than {max_leaves}")


def _check_path_leaf(
    suite: CipherSuite, old_tree: RatchetTree, tree: RatchetTree, sender: int, applied: AppliedProposals
) -> None:
    """RFC 9420 §7.3 checks on the committer's new leaf; merge_update_path already checked its signature."""
    leaf = tree.member_leaf(sender)
    if suite.suite_id not in leaf.capabilities.cipher_suites:
        raise ValidationError("RFC 9420 §7.3: committer leaf does not support the group cipher suite")
    required = required_capabilities(applied.extensions)
    if required is not None:
        required.check(leaf.capabilities, "committer leaf")
    for i, other in tree.leaves():
        if i == sender:
            continue
        if other.encryption_key == leaf.encryption_key or other.signature_key == leaf.signature_key:
            raise ValidationError(f"RFC 9420 §7.3: committer leaf repeats a key of leaf {i}")
    old_leaf = old_tree.leaf(sender)
    if old_leaf is not None and old_leaf.encryption_key == leaf.encryption_key:
        raise ValidationError("RFC 9420 §12.4.2: UpdatePath must replace the committer's encryption key")
