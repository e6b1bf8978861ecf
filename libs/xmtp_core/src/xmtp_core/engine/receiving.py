"""Processing one group envelope in server order: decrypt, recognise our own echoes and replays, decode
application content, and validate commits by XMTP's rules (sequence ids, installation diff against identity
state, permission policies, one actor, no PSK) before merging them and synthesising GroupUpdated."""

from __future__ import annotations

import hashlib

from xmtp_core.content.envelope import PlaintextEnvelope, decode_plaintext_envelope, message_id
from xmtp_core.content.errors import ContentError
from xmtp_core.content.limits import MAX_MESSAGE_BYTES
from xmtp_core.content.registry import ContentRegistry
from xmtp_core.engine.conversation import conversation_info, inbox_of_installation, leaf_inbox_id
from xmtp_core.engine.errors import Rejected, RejectReason
from xmtp_core.engine.events import (
    EnvelopeRejected,
    GroupUpdatedEvent,
    MessageReceived,
    Outcome,
    OwnEcho,
)
from xmtp_core.engine.identity import IdentityResolver, installation_states, lifetime_now
from xmtp_core.engine.installation import InstallationKeys
from xmtp_core.engine.updates import commit_update
from xmtp_core.envelopes import GroupMessage
from xmtp_core.mls.errors import EpochError, GenerationError, LifetimeError, LimitError, MLSError
from xmtp_core.mls.framing import CONTENT_APPLICATION, SENDER_MEMBER, MLSMessage, PrivateMessage, PublicMessage
from xmtp_core.mls.group import ApplicationMessage, Group, ProposalMessage, StagedCommit
from xmtp_core.mls.proposals import PSK
from xmtp_core.xmtp_mls.changes import summarize_commit
from xmtp_core.xmtp_mls.commit_checks import (
    LeafChange,
    check_added_leaves,
    check_changed_installations,
    check_commit_installations,
    check_credentials_unchanged,
    check_leaf_update,
    expected_installation_diff,
    leaf_changes,
)
from xmtp_core.xmtp_mls.constants import MAX_COMMIT_PROPOSALS, MAX_GROUP_LEAVES, MAX_GROUP_SIZE
from xmtp_core.xmtp_mls.errors import CredentialChangeError, ImmutableMetadataError, MembershipError, XmtpMlsError
from xmtp_core.xmtp_mls.extensions import GroupExtensions, parse_group_extensions
from xmtp_core.xmtp_mls.join_checks import LeafIdentity
from xmtp_core.xmtp_mls.policies import evaluate_commit


def data_hash(data: bytes) -> bytes:
    """How we match an echoed envelope to the intent that published it."""
    return hashlib.sha256(data).digest()


def _rejected(envelope: GroupMessage, reason: RejectReason, detail: str) -> EnvelopeRejected:
    return EnvelopeRejected(envelope.group_id, envelope.id, reason, detail)


def _message_epoch(message: MLSMessage) -> int | None:
    body = message.body
    if isinstance(body, PrivateMessage):
        return body.epoch
    if isinstance(body, PublicMessage):
        return body.content.epoch
    return None


def may_move_epoch(envelope: GroupMessage, epoch: int) -> bool:
    """Whether ``envelope`` may take a group that is at ``epoch`` to a later one, read from its clear header
    without decrypting: a commit (by the header's content type or the node's flag) from ``epoch`` on, anything
    from a later epoch, or bytes that do not parse. A forged header can only make a sender encrypt at an epoch
    the group just left, which readers still decrypt within their window of past epochs."""
    if len(envelope.data) > MAX_MESSAGE_BYTES:
        return True
    try:
        body = MLSMessage.from_bytes(envelope.data).body
    except MLSError:
        return True
    if isinstance(body, PrivateMessage):
        at, content_type = body.epoch, body.content_type
    elif isinstance(body, PublicMessage):
        at, content_type = body.content.epoch, body.content.content_type
    else:
        return True
    if content_type != CONTENT_APPLICATION or envelope.is_commit:
        return at >= epoch
    return at > epoch


def _epoch_reason(group: Group, epoch: int | None, is_commit: bool) -> RejectReason:
    if epoch is not None and epoch > group.epoch:
        return RejectReason.EPOCH_IN_FUTURE
    # Concurrent commits are normal: the node keeps every one, the first for an epoch wins.
    return RejectReason.STALE_COMMIT if is_commit else RejectReason.EPOCH_TOO_OLD


async def process_envelope(
    group: Group,
    envelope: GroupMessage,
    keys: InstallationKeys,
    resolver: IdentityResolver,
    registry: ContentRegistry,
    *,
    now: int | None = None,
) -> Outcome:
    """One envelope of ``group``'s topic, in server order. The group is changed in place when
    ``Outcome.state_changed``; a rejection leaves the epoch alone and is reported as an event. Lifetimes of
    added key packages are checked at ``now`` (seconds; default: the envelope's node timestamp)."""
    if not group.active:
        return Outcome([_rejected(envelope, RejectReason.GROUP_INACTIVE, "we are no longer a member")])
    if len(envelope.data) > MAX_MESSAGE_BYTES:
        detail = f"{len(envelope.data)} bytes, XMTP's cap is {MAX_MESSAGE_BYTES}"
        return Outcome([_rejected(envelope, RejectReason.TOO_LARGE, detail)])
    try:
        message = MLSMessage.from_bytes(envelope.data)
    except MLSError as exc:
        return Outcome([_rejected(envelope, RejectReason.DECRYPT_FAILED, f"not an MLSMessage: {exc}")])
    epoch = _message_epoch(message)
    try:
        sender = group.peek_sender(message)
    except EpochError as exc:
        return Outcome([_rejected(envelope, _epoch_reason(group, epoch, envelope.is_commit), str(exc))])
    except MLSError as exc:
        return Outcome([_rejected(envelope, RejectReason.DECRYPT_FAILED, str(exc))])
    if sender.sender_type == SENDER_MEMBER and _is_own(group, keys, epoch, sender.index):
        at = group.epoch if epoch is None else epoch
        return Outcome([OwnEcho(group.group_id, envelope.id, data_hash(envelope.data), envelope.is_commit, at)])
    try:
        result = group.process_message(
            message,
            now=lifetime_now(envelope.created_ns, now),
            max_leaves=MAX_GROUP_LEAVES,
            max_proposals=MAX_COMMIT_PROPOSALS,
        )
    except LimitError as exc:
        return Outcome([_rejected(envelope, RejectReason.TOO_LARGE, str(exc))])
    except LifetimeError as exc:
        return Outcome([_rejected(envelope, RejectReason.LIFETIME_INVALID, str(exc))])
    except EpochError as exc:
        return Outcome([_rejected(envelope, _epoch_reason(group, epoch, envelope.is_commit), str(exc))])
    except GenerationError as exc:
        return Outcome([_rejected(envelope, RejectReason.DUPLICATE, str(exc))])
    except MLSError as exc:
        reason = RejectReason.INVALID_COMMIT if envelope.is_commit else RejectReason.DECRYPT_FAILED
        return Outcome([_rejected(envelope, reason, str(exc))])
    if isinstance(result, ApplicationMessage):
        return Outcome([_application(group, envelope, result, registry)], state_changed=True)
    if isinstance(result, ProposalMessage):
        # libxmtp never sends standalone proposals; drop it so no later commit can reference it.
        group.pending_proposals = [p for p in group.pending_proposals if p.ref != result.ref]
        detail = "standalone proposals are not accepted"
        return Outcome([_rejected(envelope, RejectReason.INVALID_COMMIT, detail)], state_changed=True)
    return await _commit(group, envelope, result, keys, resolver)


def _is_own(group: Group, keys: InstallationKeys, epoch: int | None, leaf: int) -> bool:
    """Our own envelope (we cannot decrypt it: its keys were used up when we sent it)."""
    if epoch is None or epoch == group.epoch:
        node = group.tree.leaf(leaf)
        return node is not None and node.signature_key == keys.installation_key
    past = next((p for p in group.past_epochs if p.context.epoch == epoch), None)
    return past is not None and past.signature_keys.get(leaf) == keys.installation_key


def _sender_identity(group: Group, epoch: int, leaf: int) -> tuple[str, bytes]:
    if epoch == group.epoch:
        node = group.tree.member_leaf(leaf)
        return leaf_inbox_id(group, leaf), node.signature_key
    past = next((p for p in group.past_epochs if p.context.epoch == epoch), None)
    key = b"" if past is None else past.signature_keys.get(leaf, b"")
    return inbox_of_installation(group, key) or "", key


def _application(
    group: Group, envelope: GroupMessage, app: ApplicationMessage, registry: ContentRegistry
) -> MessageReceived | EnvelopeRejected:
    try:
        plain = decode_plaintext_envelope(app.data)
        if not isinstance(plain, PlaintextEnvelope):
            return _rejected(envelope, RejectReason.BAD_CONTENT, "device-sync envelopes are not handled")
        decoded = registry.decode_bytes(plain.content)
    except (ContentError, ValueError) as exc:
        return _rejected(envelope, RejectReason.BAD_CONTENT, str(exc))
    try:
        inbox_id, installation_key = _sender_identity(group, app.epoch, app.sender)
    except (XmtpMlsError, MLSError) as exc:
        return _rejected(envelope, RejectReason.SENDER_NOT_A_MEMBER, str(exc))
    if not inbox_id:
        # Sent at an earlier epoch by an installation no longer in the group (it was removed since).
        detail = f"leaf {app.sender} of epoch {app.epoch} is not a member at epoch {group.epoch}"
        return _rejected(envelope, RejectReason.SENDER_NOT_A_MEMBER, detail)
    return MessageReceived(
        group_id=group.group_id,
        message_id=message_id(group.group_id, plain.idempotency_key, plain.content),
        sender_inbox_id=inbox_id,
        sender_installation_key=installation_key,
        sent_ns=envelope.created_ns,
        epoch=app.epoch,
        envelope_id=envelope.id,
        content=decoded,
        encoded=plain.content,
        idempotency_key=plain.idempotency_key,
    )


async def _commit(
    group: Group,
    envelope: GroupMessage,
    staged: StagedCommit,
    keys: InstallationKeys,
    resolver: IdentityResolver,
) -> Outcome:
    try:
        before, after, actor = await validate_commit(group, staged, resolver)
    except Rejected as exc:
        return Outcome([_rejected(envelope, exc.reason, exc.detail)], state_changed=True)
    try:
        # Everything that can fail on the commit's contents runs before the merge, so a refusal leaves the
        # group as it was.
        update = commit_update(before, after, actor)
        conversation = conversation_info(group.group_id, after, keys.inbox_id)
    except XmtpMlsError as exc:
        return Outcome([_rejected(envelope, RejectReason.INVALID_COMMIT, str(exc))], state_changed=True)
    group.merge_staged_commit(staged)
    event = GroupUpdatedEvent(
        group_id=group.group_id,
        update=update,
        epoch=group.epoch,
        envelope_id=envelope.id,
        sent_ns=envelope.created_ns,
        conversation=conversation,
        removed_us=staged.self_removed,
    )
    return Outcome([event], state_changed=True)


async def validate_commit(
    group: Group, staged: StagedCommit, resolver: IdentityResolver
) -> tuple[GroupExtensions, GroupExtensions, str]:
    """XMTP's rules on top of MLS validity; returns (before, after, actor inbox) or raises Rejected."""
    if staged.sender.sender_type != SENDER_MEMBER:
        raise Rejected(RejectReason.INVALID_COMMIT, "only members may commit")
    if any(e.proposal.proposal_type == PSK for e in staged.proposals):
        raise Rejected(RejectReason.PSK_NOT_ALLOWED, "commits must not carry PreSharedKey proposals")
    if any(e.sender != staged.sender for e in staged.proposals):
        raise Rejected(RejectReason.MULTIPLE_ACTORS, "every proposal must come from the committer")
    try:
        changed = leaf_changes(group.tree, staged.new_epoch.tree, staged.removed)
        check_credentials_unchanged(changed)
    except CredentialChangeError as exc:
        raise Rejected(RejectReason.CREDENTIAL_CHANGED, str(exc)) from exc
    except MembershipError as exc:
        raise Rejected(RejectReason.INVALID_COMMIT, str(exc)) from exc
    try:
        actor = leaf_inbox_id(group, staged.sender.index)
        before = parse_group_extensions(group.extensions)
        after = parse_group_extensions(staged.new_epoch.context.extensions)
    except (MLSError, XmtpMlsError) as exc:
        raise Rejected(RejectReason.INVALID_COMMIT, str(exc)) from exc
    if len(after.membership.members) > MAX_GROUP_SIZE:
        # Before any identity look-up: each member inbox costs one.
        detail = f"{len(after.membership.members)} member inboxes, XMTP's limit is {MAX_GROUP_SIZE}"
        raise Rejected(RejectReason.TOO_LARGE, detail)
    try:
        summary = summarize_commit(before, after, actor)
    except ImmutableMetadataError as exc:
        raise Rejected(RejectReason.IMMUTABLE_METADATA_CHANGED, str(exc)) from exc
    except MembershipError as exc:
        raise Rejected(RejectReason.SEQUENCE_ID_DECREASED, str(exc)) from exc
    decision = evaluate_commit(before.permissions, summary)
    if not decision.allowed:
        raise Rejected(RejectReason.POLICY_DENIED, "; ".join(decision.violations))
    await _check_installations(group, staged, before, after, actor, changed, resolver)
    return before, after, actor


async def _check_installations(
    group: Group,
    staged: StagedCommit,
    before: GroupExtensions,
    after: GroupExtensions,
    actor: str,
    changed: list[LeafChange],
    resolver: IdentityResolver,
) -> None:
    states_before = await installation_states(resolver, before.membership.members)
    states_after = await installation_states(resolver, after.membership.members)
    removed = {group.tree.member_leaf(i).signature_key for i in staged.removed}
    try:
        expected = expected_installation_diff(before.membership, after.membership, states_before, states_after)
        check_commit_installations(
            expected,
            [kp.leaf_node.signature_key for _, kp in staged.added],
            removed,
            existing={leaf.signature_key for _, leaf in group.members()},
            failed=after.membership.failed_installations,
            actor_is_super_admin=before.mutable.is_super_admin(actor),
        )
        if staged.has_path and actor in states_after:
            leaf = staged.new_epoch.tree.member_leaf(staged.committer_leaf)
            check_leaf_update(LeafIdentity(actor, leaf.signature_key), states_after[actor])
        check_changed_installations(changed, states_after)
        check_added_leaves((kp.leaf_node for _, kp in staged.added), states_after)
    except (XmtpMlsError, MLSError) as exc:
        raise Rejected(RejectReason.INSTALLATION_DIFF, str(exc)) from exc
