"""MLS group state (RFC 9420 §8, §11, §12): one object holding the current epoch and a few past epochs.

It creates groups, joins from a Welcome, protects application messages and proposals, creates commits (with
or without an UpdatePath, plus a Welcome for new members) and processes incoming messages. Commits, own or
received, come back as a :class:`StagedCommit` that the caller inspects and then merges with
:meth:`Group.merge_staged_commit`, so an application can apply its own policy first. ``to_bytes`` and
``from_bytes`` (in ``group_state_codec``) persist the whole state.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls import tree_math as tm
from xmtp_core.mls.app_data import AppDataUpdater
from xmtp_core.mls.cipher_suite import CipherSuite, get_cipher_suite
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import EpochError, LimitError, UnsupportedError, ValidationError
from xmtp_core.mls.extensions import (
    EXT_EXTERNAL_PUB,
    EXT_RATCHET_TREE,
    PROTOCOL_MLS10,
    Capabilities,
    Extension,
    ExternalPub,
    check_unique_extensions,
    find_extension,
)
from xmtp_core.mls.framing import (
    CONTENT_APPLICATION,
    CONTENT_COMMIT,
    CONTENT_PROPOSAL,
    SENDER_MEMBER,
    SENDER_NEW_MEMBER_COMMIT,
    WIRE_PRIVATE_MESSAGE,
    WIRE_PUBLIC_MESSAGE,
    AuthenticatedContent,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Sender,
)
from xmtp_core.mls.group_context import GroupContext
from xmtp_core.mls.group_info import GroupInfo
from xmtp_core.mls.kem import forget_private_keys
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.leaf_node import SOURCE_KEY_PACKAGE, SOURCE_UPDATE, LeafNode
from xmtp_core.mls.message_protection import (
    authenticate,
    confirmed_transcript_input,
    decrypt_private,
    decrypt_sender_data,
    encrypt_private,
    from_public_message,
    to_public_message,
    verify_content,
)
from xmtp_core.mls.own_key_package import OwnKeyPackage, default_capabilities, default_lifetime
from xmtp_core.mls.proposal_validation import (
    AppliedProposals,
    ProposalEntry,
    required_capabilities,
    validate_and_apply,
    validate_leaf_node,
)
from xmtp_core.mls.proposals import (
    ADD,
    REMOVE,
    UPDATE,
    Commit,
    Proposal,
    ProposalOrRef,
)
from xmtp_core.mls.psk import resolve_psk_secret
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.secret_tree import SecretTree
from xmtp_core.mls.treekem import (
    CreatedPath,
    PathKeys,
    create_update_path,
    decrypt_update_path,
    merge_update_path,
    node_key_pair,
)
from xmtp_core.mls.update_path import UpdatePath
from xmtp_core.mls.welcome import Welcome
from xmtp_core.mls.welcome_crypto import (
    WelcomeRecipient,
    decrypt_group_info,
    decrypt_group_secrets,
    encrypt_welcome,
)

PROPOSAL_REF_LABEL = b"MLS 1.0 Proposal Reference"
EXTERNAL_INIT_EXPORT_LABEL = b"MLS 1.0 external init secret"


@dataclass(frozen=True)
class GroupConfig:
    """Local policy; XMTP's profile is the default (encrypted handshakes, 3 past epochs, no padding)."""

    max_past_epochs: int = 3
    padding: int = 0
    encrypt_handshake: bool = True
    ratchet_tree_extension: bool = True
    out_of_order_tolerance: int = 5
    maximum_forward_distance: int = 1000


@dataclass
class EpochState:
    """Everything that belongs to one epoch."""

    context: GroupContext
    tree: RatchetTree
    path_keys: PathKeys = field(repr=False)
    secrets: ks.EpochSecrets = field(repr=False)
    secret_tree: SecretTree = field(repr=False)
    interim_transcript_hash: bytes
    confirmation_tag: bytes

    @property
    def own_leaf(self) -> int:
        return self.path_keys.leaf_index


@dataclass
class PastEpoch:
    """What is kept of an earlier epoch: enough to read late application messages and resumption PSKs."""

    context: GroupContext
    secret_tree: SecretTree = field(repr=False)
    sender_data_secret: bytes = field(repr=False)
    signature_keys: dict[int, bytes]
    resumption_psk: bytes = field(repr=False)


@dataclass(frozen=True)
class PendingProposal:
    ref: bytes
    proposal: Proposal
    sender: Sender


@dataclass(frozen=True)
class ApplicationMessage:
    sender: int
    epoch: int
    data: bytes = field(repr=False)  # plaintext
    authenticated_data: bytes


@dataclass(frozen=True)
class ProposalMessage:
    sender: Sender
    ref: bytes
    proposal: Proposal


@dataclass
class StagedCommit:
    """A validated commit not yet applied; ``merge_staged_commit`` moves the group to ``new_epoch``."""

    sender: Sender
    proposals: list[ProposalEntry]
    applied: AppliedProposals
    new_epoch: EpochState
    base_epoch: int
    has_path: bool
    self_removed: bool = False
    committer_leaf: int = -1  # leaf index of the committer in the new tree
    message: MLSMessage | None = None  # set for commits this client created
    welcome: MLSMessage | None = None
    group_info: GroupInfo | None = None

    @property
    def added(self) -> list[tuple[int, KeyPackage]]:
        return self.applied.added

    @property
    def removed(self) -> list[int]:
        return self.applied.removed


ProcessedMessage = ApplicationMessage | ProposalMessage | StagedCommit


@dataclass
class Group:
    """One client's view of one group."""

    suite: CipherSuite
    signature_priv: bytes = field(repr=False)
    epoch_state: EpochState
    config: GroupConfig = field(default_factory=GroupConfig)
    past_epochs: list[PastEpoch] = field(default_factory=list)
    pending_proposals: list[PendingProposal] = field(default_factory=list)
    pending_update_keys: dict[bytes, bytes] = field(default_factory=dict, repr=False)  # ref -> leaf HPKE priv
    external_psks: dict[bytes, bytes] = field(default_factory=dict, repr=False)
    active: bool = True

    # ---- creation -------------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        suite_id: int,
        signature_priv: bytes,
        credential: Credential,
        *,
        group_id: bytes | None = None,
        extensions: tuple[Extension, ...] = (),
        capabilities: Capabilities | None = None,
        leaf_extensions: tuple[Extension, ...] = (),
        config: GroupConfig | None = None,
    ) -> Group:
        """A one-member group at epoch 0 (RFC 9420 §11)."""
        suite = get_cipher_suite(suite_id)
        check_unique_extensions(extensions)
        enc_priv, enc_pub = suite.generate_hpke_key_pair()
        leaf = LeafNode(
            enc_pub,
            suite.signature_public_key(signature_priv),
            credential,
            capabilities or default_capabilities(suite_id, credential.credential_type),
            SOURCE_KEY_PACKAGE,
            lifetime=default_lifetime(),
            extensions=leaf_extensions,
        ).signed(suite, signature_priv)
        required = required_capabilities(extensions)
        if required is not None:
            required.check(leaf.capabilities, "creator leaf")
        tree = RatchetTree.with_leaf(leaf)
        context = GroupContext(
            PROTOCOL_MLS10, suite_id, group_id or os.urandom(16), 0, tree.tree_hash(suite), b"", extensions
        )
        secrets = ks.epoch_secrets(suite, os.urandom(suite.hash_len), None, None, context.to_bytes())
        cfg = config or GroupConfig()
        state = _epoch_state(suite, cfg, context, tree, PathKeys(0, {0: enc_priv}), secrets)
        return cls(suite, signature_priv, state, cfg)

    @classmethod
    def join(
        cls,
        welcome: Welcome | MLSMessage,
        bundle: OwnKeyPackage,
        *,
        ratchet_tree: RatchetTree | None = None,
        external_psks: dict[bytes, bytes] | None = None,
        config: GroupConfig | None = None,
        max_leaves: int | None = None,
        now: int | None = None,
    ) -> Group:
        """Join from a Welcome addressed to ``bundle``'s KeyPackage (RFC 9420 §12.4.3.1).

        ``max_leaves`` refuses (LimitError) a tree with a member at leaf index ``max_leaves`` or beyond before
        its hash, signatures or parent hashes are computed. ``now`` (seconds) refuses (LifetimeError) a tree
        with a key_package leaf whose lifetime does not cover it (RFC 9420 §7.3 recommends the check)."""
        if isinstance(welcome, MLSMessage):
            body = welcome.body
            if not isinstance(body, Welcome):
                raise ValidationError("RFC 9420 §12.4.3: message is not a Welcome")
            welcome = body
        kp = bundle.key_package
        suite = get_cipher_suite(kp.cipher_suite)
        psks_known = dict(external_psks or {})
        secrets_in = decrypt_group_secrets(suite, welcome, kp.ref(suite), bundle.init_priv)
        psk = resolve_psk_secret(suite, secrets_in.psks, psks_known, {}, b"")
        info = decrypt_group_info(suite, welcome, secrets_in.joiner_secret, psk)
        context = info.group_context
        if context.cipher_suite != suite.suite_id or context.version != PROTOCOL_MLS10:
            raise ValidationError("RFC 9420 §12.4.3.1: GroupInfo cipher suite or version differs from the KeyPackage")
        tree = joined_tree(suite, info, ratchet_tree, max_leaves=max_leaves, now=now)
        own = next((i for i, leaf in tree.leaves() if leaf == kp.leaf_node), None)
        if own is None:
            raise ValidationError("RFC 9420 §12.4.3.1: own KeyPackage leaf not found in the tree")
        secrets = ks.epoch_secrets_from_joiner(suite, secrets_in.joiner_secret, psk, context.to_bytes())
        keys = PathKeys(own, {tm.leaf_to_node(own): bundle.encryption_priv})
        cfg = config or GroupConfig()
        state = _epoch_state(suite, cfg, context, tree, keys, secrets)
        if not hmac.compare_digest(state.confirmation_tag, info.confirmation_tag):
            raise ValidationError("RFC 9420 §12.4.3.1: GroupInfo confirmation_tag does not verify")
        if secrets_in.path_secret is not None:
            _learn_path_secret(suite, tree, keys, info.signer, secrets_in.path_secret)
        forget_private_keys([bundle.init_priv])  # a KeyPackage, so its init key, is used once (RFC 9420 §10)
        return cls(suite, bundle.signature_priv, state, cfg, external_psks=psks_known)

    # ---- read-only views ------------------------------------------------------------------------------
    @property
    def group_id(self) -> bytes:
        return self.epoch_state.context.group_id

    @property
    def epoch(self) -> int:
        return self.epoch_state.context.epoch

    @property
    def context(self) -> GroupContext:
        return self.epoch_state.context

    @property
    def tree(self) -> RatchetTree:
        return self.epoch_state.tree

    @property
    def own_leaf_index(self) -> int:
        return self.epoch_state.own_leaf

    @property
    def epoch_authenticator(self) -> bytes:
        return self.epoch_state.secrets.epoch_authenticator

    @property
    def extensions(self) -> tuple[Extension, ...]:
        return self.epoch_state.context.extensions

    def members(self) -> list[tuple[int, LeafNode]]:
        return list(self.epoch_state.tree.leaves())

    def export_group_info(self, *, with_ratchet_tree: bool = True, with_external_pub: bool = False) -> GroupInfo:
        """A GroupInfo for the current epoch signed by this member (RFC 9420 §12.4.3).

        ``with_external_pub`` adds the external_pub extension that lets a non-member join by external commit.
        """
        return self._group_info(self.epoch_state, with_ratchet_tree, with_external_pub)

    def _group_info(self, state: EpochState, with_ratchet_tree: bool, with_external_pub: bool = False) -> GroupInfo:
        extensions: tuple[Extension, ...] = ()
        if with_ratchet_tree:
            extensions = (Extension(EXT_RATCHET_TREE, state.tree.to_extension_data()),)
        if with_external_pub:
            _, external_pub = ks.external_key_pair(self.suite, state.secrets.external_secret)
            extensions = (*extensions, Extension(EXT_EXTERNAL_PUB, ExternalPub(external_pub).to_bytes()))
        info = GroupInfo(state.context, extensions, state.confirmation_tag, state.own_leaf)
        return info.signed(self.suite, self.signature_priv)

    def export_secret(self, label: bytes, context: bytes, length: int) -> bytes:
        return ks.mls_exporter(self.suite, self.epoch_state.secrets.exporter_secret, label, context, length)

    # ---- sending --------------------------------------------------------------------------------------
    def _framed(
        self,
        content_type: int,
        authenticated_data: bytes,
        *,
        application_data: bytes = b"",
        proposal: Proposal | None = None,
        commit: Commit | None = None,
    ) -> FramedContent:
        self._require_active()
        s = self.epoch_state
        return FramedContent(
            s.context.group_id, s.context.epoch, Sender.member(s.own_leaf), authenticated_data, content_type,
            application_data, proposal, commit,
        )  # fmt: skip

    def _protect(self, ac: AuthenticatedContent) -> MLSMessage:
        s = self.epoch_state
        if ac.wire_format == WIRE_PRIVATE_MESSAGE:
            msg = encrypt_private(self.suite, ac, s.secret_tree, s.secrets.sender_data_secret, self.config.padding)
            return MLSMessage.wrap(msg)
        return MLSMessage.wrap(to_public_message(self.suite, ac, s.secrets.membership_key, s.context))

    def _handshake_wire_format(self) -> int:
        return WIRE_PRIVATE_MESSAGE if self.config.encrypt_handshake else WIRE_PUBLIC_MESSAGE

    def encrypt_application(self, data: bytes, authenticated_data: bytes = b"") -> MLSMessage:
        """An application message as a PrivateMessage (RFC 9420 §6.3)."""
        content = self._framed(CONTENT_APPLICATION, authenticated_data, application_data=data)
        ac = authenticate(self.suite, self.signature_priv, WIRE_PRIVATE_MESSAGE, content, self.context)
        return self._protect(ac)

    def propose(self, proposal: Proposal, authenticated_data: bytes = b"") -> MLSMessage:
        """Send a proposal by reference; it is also queued locally for the next commit."""
        content = self._framed(CONTENT_PROPOSAL, authenticated_data, proposal=proposal)
        ac = authenticate(self.suite, self.signature_priv, self._handshake_wire_format(), content, self.context)
        ref = self._proposal_ref(ac)
        self.pending_proposals.append(PendingProposal(ref, proposal, content.sender))
        return self._protect(ac)

    def propose_update(self, authenticated_data: bytes = b"") -> MLSMessage:
        """Propose a fresh encryption key for this member's leaf (RFC 9420 §12.1.2)."""
        s = self.epoch_state
        enc_priv, enc_pub = self.suite.generate_hpke_key_pair()
        leaf = replace(
            s.tree.member_leaf(s.own_leaf), encryption_key=enc_pub, leaf_node_source=SOURCE_UPDATE, lifetime=None
        ).signed(self.suite, self.signature_priv, self.group_id, s.own_leaf)
        msg = self.propose(Proposal.update(leaf), authenticated_data)
        self.pending_update_keys[self.pending_proposals[-1].ref] = enc_priv
        return msg

    def _proposal_ref(self, ac: AuthenticatedContent) -> bytes:
        return self.suite.ref_hash(PROPOSAL_REF_LABEL, ac.to_bytes())

    def commit(
        self,
        proposals: Sequence[Proposal] = (),
        *,
        include_pending: bool = True,
        force_path: bool = False,
        authenticated_data: bytes = b"",
        now: int | None = None,
        app_data_updater: AppDataUpdater | None = None,
    ) -> StagedCommit:
        """Create a commit over pending proposals (by reference) and ``proposals`` (by value), RFC 9420 §12.4.

        Nothing changes until :meth:`merge_staged_commit`; the result carries the message to send and, if
        members were added, the Welcome.
        """
        self._require_active()
        s = self.epoch_state
        me = Sender.member(s.own_leaf)
        entries, refs = self._commit_proposals(proposals, include_pending, me)
        applied = validate_and_apply(self.suite, s.tree, self.group_id, s.context.extensions, entries, me, now=now)
        _apply_app_data(applied, app_data_updater)
        path: UpdatePath | None = None
        commit_secret: bytes | None = None
        path_secrets: dict[int, bytes] = {}
        if applied.path_required or force_path:
            created = self._create_path(applied)
            path, commit_secret, path_secrets = created.update_path, created.commit_secret, created.path_secrets
            new_keys = PathKeys(s.own_leaf, created.keys)
        else:
            new_keys = PathKeys(s.own_leaf, dict(s.path_keys.keys))
            new_keys.prune(applied.tree)
        content = self._framed(CONTENT_COMMIT, authenticated_data, commit=Commit(tuple(refs), path))
        signed = authenticate(self.suite, self.signature_priv, self._handshake_wire_format(), content, s.context)
        new_state = self._next_epoch(applied, commit_secret, signed, new_keys)
        ac = replace(signed, auth=replace(signed.auth, confirmation_tag=new_state.confirmation_tag))
        staged = StagedCommit(me, entries, applied, new_state, self.epoch, path is not None)
        staged.committer_leaf = s.own_leaf
        staged.message = self._protect(ac)
        if applied.added:
            staged.group_info, staged.welcome = self._welcome(applied, new_state, path_secrets)
        return staged

    def _commit_proposals(
        self, proposals: Sequence[Proposal], include_pending: bool, me: Sender
    ) -> tuple[list[ProposalEntry], list[ProposalOrRef]]:
        """What a new commit covers: queued proposals by reference, then ``proposals`` by value."""
        entries: list[ProposalEntry] = []
        refs: list[ProposalOrRef] = []
        if include_pending:
            for p in self.pending_proposals:
                if p.proposal.proposal_type == UPDATE and p.sender == me:
                    continue  # the committer's own Update is replaced by its UpdatePath (§12.2)
                entries.append(ProposalEntry(p.proposal, p.sender, p.ref))
                refs.append(ProposalOrRef(reference=p.ref))
        for proposal in proposals:
            entries.append(ProposalEntry(proposal, me))
            refs.append(ProposalOrRef(proposal=proposal))
        return entries, refs

    def _create_path(self, applied: AppliedProposals) -> CreatedPath:
        """A fresh UpdatePath from this member over the tree the proposals produce (RFC 9420 §7.5, §12.4.1)."""
        own, tree = self.epoch_state.own_leaf, applied.tree
        provisional = self._provisional_context(applied)
        return create_update_path(
            self.suite, tree, own, tree.member_leaf(own), self.signature_priv, self.group_id,
            lambda th: replace(provisional, tree_hash=th).to_bytes(), applied.joiners,
        )  # fmt: skip

    def _provisional_context(self, applied: AppliedProposals) -> GroupContext:
        ctx = self.epoch_state.context
        return replace(
            ctx, epoch=ctx.epoch + 1, tree_hash=applied.tree.tree_hash(self.suite), extensions=applied.extensions
        )

    def _next_epoch(
        self,
        applied: AppliedProposals,
        commit_secret: bytes | None,
        ac: AuthenticatedContent,
        keys: PathKeys,
        init_secret: bytes | None = None,
    ) -> EpochState:
        s = self.epoch_state
        return derive_epoch_state(
            self.suite, self.config, s.context, s.interim_transcript_hash,
            init_secret if init_secret is not None else s.secrets.init_secret, self._commit_psk_secret(applied),
            applied, commit_secret, ac, keys,
        )  # fmt: skip

    def _commit_psk_secret(self, applied: AppliedProposals) -> bytes | None:
        """psk_secret of the PreSharedKey proposals a commit covers (RFC 9420 §8.4), None without any."""
        return resolve_psk_secret(self.suite, applied.psks, self.external_psks, self._resumption_psks(), self.group_id)

    def _resumption_psks(self) -> dict[int, bytes]:
        out = {p.context.epoch: p.resumption_psk for p in self.past_epochs}
        out[self.epoch] = self.epoch_state.secrets.resumption_psk
        return out

    def _welcome(
        self, applied: AppliedProposals, state: EpochState, path_secrets: dict[int, bytes]
    ) -> tuple[GroupInfo, MLSMessage]:
        info = self._group_info(state, self.config.ratchet_tree_extension)
        recipients = []
        for leaf_index, kp in applied.added:
            node = next((p for p in sorted(path_secrets, key=tm.level) if leaf_index in tm.subtree_leaves(p)), None)
            recipients.append(WelcomeRecipient(kp, path_secrets.get(node) if node is not None else None))
        psk = self._commit_psk_secret(applied)
        welcome = encrypt_welcome(self.suite, info, state.secrets.joiner_secret, recipients, tuple(applied.psks), psk)
        return info, MLSMessage.wrap(welcome)

    # ---- receiving ------------------------------------------------------------------------------------
    def process_message(
        self,
        message: MLSMessage | bytes,
        *,
        now: int | None = None,
        app_data_updater: AppDataUpdater | None = None,
        max_leaves: int | None = None,
        max_proposals: int | None = None,
    ) -> ProcessedMessage:
        """Unprotect and validate a PublicMessage or PrivateMessage for this group.

        Application data and proposals are returned (proposals are queued); a commit is returned as a
        StagedCommit to be merged with :meth:`merge_staged_commit`. Commits carrying AppDataUpdate proposals
        need ``app_data_updater`` to compute the new GroupContext extensions. With ``now`` (seconds), a
        KeyPackage (Add) or leaf whose lifetime does not cover it is refused with LifetimeError.

        Limits, checked before the costly validation and refused with LimitError: ``max_proposals`` bounds a
        commit's proposal list and the queue of pending proposals; ``max_leaves`` bounds the members a commit
        leaves (and the leaf index any of them holds).
        """
        self._require_active()
        if isinstance(message, bytes):
            message = MLSMessage.from_bytes(message)
        body = message.body
        if isinstance(body, PrivateMessage):
            ac = self._open_private(body)
        elif isinstance(body, PublicMessage):
            ac = self._open_public(body)
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
            if max_proposals is not None and len(self.pending_proposals) >= max_proposals:
                raise LimitError(f"more than {max_proposals} pending proposals")
            return self._receive_proposal(ac, now)
        return self._stage_commit(ac, now, app_data_updater, max_leaves, max_proposals)

    def peek_sender(self, message: MLSMessage) -> Sender:
        """The sender of a group message without consuming any key; lets callers skip their own echoes.

        For a PrivateMessage only the sender data is decrypted (RFC 9420 §6.3.2); nothing is authenticated yet.
        """
        body = message.body
        if isinstance(body, PublicMessage):
            return body.content.sender
        if not isinstance(body, PrivateMessage):
            raise ValidationError("RFC 9420 §6: only PublicMessage and PrivateMessage have a sender")
        self._check_group(body.group_id)
        if body.epoch == self.epoch:
            secret = self.epoch_state.secrets.sender_data_secret
        else:
            secret = self._past_epoch(body.epoch).sender_data_secret
        return Sender.member(decrypt_sender_data(self.suite, body, secret).leaf_index)

    def _check_group(self, group_id: bytes) -> None:
        if group_id != self.group_id:
            raise ValidationError("RFC 9420 §6: message is for another group")

    def _wrong_epoch(self, epoch: int) -> EpochError:
        return EpochError(f"RFC 9420 §6: message for epoch {epoch}, group is at epoch {self.epoch}")

    def _past_epoch(self, epoch: int) -> PastEpoch:
        """A retained earlier epoch; EpochError if ``epoch`` is neither retained nor current."""
        past = next((p for p in self.past_epochs if p.context.epoch == epoch), None)
        if past is None:
            raise self._wrong_epoch(epoch)
        return past

    def _open_private(self, msg: PrivateMessage) -> AuthenticatedContent:
        self._check_group(msg.group_id)
        s = self.epoch_state
        if msg.epoch == self.epoch:
            ac = decrypt_private(self.suite, msg, s.secret_tree, s.secrets.sender_data_secret)
            verify_content(self.suite, self._signature_key(ac.content.sender), ac, s.context)
            return ac
        if msg.content_type != CONTENT_APPLICATION:
            raise self._wrong_epoch(msg.epoch)  # only application messages are read in past epochs
        past = self._past_epoch(msg.epoch)
        ac = decrypt_private(self.suite, msg, past.secret_tree, past.sender_data_secret)
        key = past.signature_keys.get(ac.content.sender.index)
        if key is None:
            raise ValidationError("RFC 9420 §6: sender was not a member in that epoch")
        verify_content(self.suite, key, ac, past.context)
        return ac

    def _open_public(self, msg: PublicMessage) -> AuthenticatedContent:
        self._check_group(msg.content.group_id)
        if msg.content.epoch != self.epoch:
            raise self._wrong_epoch(msg.content.epoch)
        s = self.epoch_state
        ac = from_public_message(self.suite, msg, s.secrets.membership_key, s.context)
        content = ac.content
        if content.sender.sender_type == SENDER_NEW_MEMBER_COMMIT:
            # An external committer signs with the key of the leaf its UpdatePath brings (RFC 9420 §6.1).
            if content.content_type != CONTENT_COMMIT or content.commit is None or content.commit.path is None:
                raise ValidationError("RFC 9420 §12.4.3.2: a new_member_commit must be a commit with a path")
            key = content.commit.path.leaf_node.signature_key
        else:
            key = self._signature_key(content.sender)
        verify_content(self.suite, key, ac, s.context)
        return ac

    def _signature_key(self, sender: Sender) -> bytes:
        if sender.sender_type != SENDER_MEMBER:
            raise UnsupportedError("RFC 9420 §6: external and new-member proposal senders are not supported")
        return self.epoch_state.tree.member_leaf(sender.index).signature_key

    def _receive_proposal(self, ac: AuthenticatedContent, now: int | None) -> ProposalMessage:
        proposal = ac.content.proposal
        assert proposal is not None
        sender = ac.content.sender
        s = self.epoch_state
        if proposal.proposal_type == UPDATE:
            assert proposal.leaf_node is not None
            validate_leaf_node(
                self.suite, s.tree, proposal.leaf_node, s.context.extensions,
                group_id=self.group_id, leaf_index=sender.index, replaces=sender.index, now=now,
            )  # fmt: skip
        elif proposal.proposal_type == ADD:
            assert proposal.key_package is not None
            proposal.key_package.validate(self.suite, now)
        ref = self._proposal_ref(ac)
        self.pending_proposals.append(PendingProposal(ref, proposal, sender))
        return ProposalMessage(sender, ref, proposal)

    def _stage_commit(
        self,
        ac: AuthenticatedContent,
        now: int | None,
        app_data_updater: AppDataUpdater | None,
        max_leaves: int | None = None,
        max_proposals: int | None = None,
    ) -> StagedCommit:
        s = self.epoch_state
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
        pending = {p.ref: p for p in self.pending_proposals}
        entries = [_resolve(por, sender, pending) for por in commit.proposals]
        if max_leaves is not None:
            _check_member_limit(s.tree, entries, external, max_leaves)
        applied = validate_and_apply(self.suite, s.tree, self.group_id, s.context.extensions, entries, sender, now=now)
        if max_leaves is not None and applied.tree.leaf_span() > max_leaves:
            raise LimitError(f"commit puts a member beyond leaf index {max_leaves - 1}")
        _apply_app_data(applied, app_data_updater)
        if applied.path_required and commit.path is None:
            raise ValidationError("RFC 9420 §12.4: this commit's proposals require an UpdatePath")
        committer = sender.index
        init_secret = None
        if external:
            assert commit.path is not None
            committer, init_secret = self._external_committer(applied, commit.path.leaf_node)
        self_removed = s.own_leaf in applied.removed
        keys = self._receiver_keys(applied)
        commit_secret = None
        if commit.path is not None:
            commit_secret = self._process_path(applied, committer, commit.path, keys, decrypt=not self_removed)
        new_state = self._next_epoch(applied, commit_secret, ac, keys, init_secret)
        if self_removed:
            # A removed member cannot derive the new epoch, so nothing of it is kept (RFC 9420 §12.1.3).
            new_state.path_keys = PathKeys(s.own_leaf, {})
        elif not hmac.compare_digest(ac.auth.confirmation_tag or b"", new_state.confirmation_tag):
            raise ValidationError("RFC 9420 §12.4.2: confirmation_tag does not verify")
        staged = StagedCommit(sender, entries, applied, new_state, self.epoch, commit.path is not None, self_removed)
        staged.committer_leaf = committer
        return staged

    def _process_path(
        self, applied: AppliedProposals, committer: int, path: UpdatePath, keys: PathKeys, *, decrypt: bool
    ) -> bytes | None:
        """Merge a received UpdatePath into the new tree, check the committer's leaf and, unless this member is
        being removed, decrypt the path to the commit secret (RFC 9420 §7.3, §12.4.2)."""
        merge_update_path(self.suite, applied.tree, committer, path, self.group_id)
        _check_path_leaf(self.suite, self.epoch_state.tree, applied.tree, committer, applied)
        if not decrypt:
            return None
        context = self._provisional_context(applied).to_bytes()
        secret, _ = decrypt_update_path(self.suite, applied.tree, keys, committer, path, context, applied.joiners)
        return secret

    def _external_committer(self, applied: AppliedProposals, leaf: LeafNode) -> tuple[int, bytes]:
        """Place an external committer's leaf and recover the init_secret from ExternalInit (RFC 9420 §8.3)."""
        for removed in applied.removed_leaves:
            if removed.credential != leaf.credential:
                raise ValidationError("RFC 9420 §12.4.3.2: an external commit may only remove its own old leaf")
        assert applied.external_init is not None
        external_priv, _ = ks.external_key_pair(self.suite, self.epoch_state.secrets.external_secret)
        init_secret = self.suite.hpke_export(
            external_priv, applied.external_init, b"", EXTERNAL_INIT_EXPORT_LABEL, self.suite.hash_len
        )
        return applied.tree.add_leaf(leaf), init_secret

    def _receiver_keys(self, applied: AppliedProposals) -> PathKeys:
        """This member's private keys after the proposals: an Update of its own leaf brings the new leaf key."""
        s = self.epoch_state
        keys = PathKeys(s.own_leaf, dict(s.path_keys.keys))
        own_update = applied.update_refs.get(s.own_leaf)
        if own_update is not None and own_update in self.pending_update_keys:
            keys.keys[tm.leaf_to_node(s.own_leaf)] = self.pending_update_keys[own_update]
        if s.own_leaf not in applied.removed:
            keys.prune(applied.tree)
        return keys

    # ---- applying -------------------------------------------------------------------------------------
    def merge_staged_commit(self, staged: StagedCommit) -> None:
        """Advance to the staged commit's epoch, keeping the old one for late application messages."""
        if staged.base_epoch != self.epoch:
            raise EpochError(f"staged commit is for epoch {staged.base_epoch}, group is at epoch {self.epoch}")
        old = self.epoch_state
        past = PastEpoch(
            old.context, old.secret_tree, old.secrets.sender_data_secret,
            {i: leaf.signature_key for i, leaf in old.tree.leaves()}, old.secrets.resumption_psk,
        )  # fmt: skip
        self.past_epochs = [past, *self.past_epochs][: self.config.max_past_epochs]
        self.epoch_state = staged.new_epoch
        kept = set(staged.new_epoch.path_keys.keys.values())
        dropped = [*old.path_keys.keys.values(), *self.pending_update_keys.values()]
        forget_private_keys(sk for sk in dropped if sk not in kept)  # deleted keys also leave the KEM cache
        self.pending_proposals = []
        self.pending_update_keys = {}
        if staged.self_removed:
            self.active = False

    def _require_active(self) -> None:
        if not self.active:
            raise ValidationError("RFC 9420 §12.1.3: this member was removed from the group")

    # ---- persistence ----------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        from xmtp_core.mls.group_state_codec import encode_group

        return encode_group(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Group:
        from xmtp_core.mls.group_state_codec import decode_group

        return decode_group(data)


def derive_epoch_state(
    suite: CipherSuite,
    config: GroupConfig,
    prior_context: GroupContext,
    prior_interim: bytes,
    init_secret: bytes,
    psk: bytes | None,
    applied: AppliedProposals,
    commit_secret: bytes | None,
    ac: AuthenticatedContent,
    keys: PathKeys,
) -> EpochState:
    """Key schedule and transcript hashes for the epoch a commit creates (RFC 9420 §8, §8.2, §12.4.2)."""
    cth = ks.confirmed_transcript_hash(suite, prior_interim, confirmed_transcript_input(ac))
    context = replace(
        prior_context, epoch=prior_context.epoch + 1, tree_hash=applied.tree.tree_hash(suite),
        confirmed_transcript_hash=cth, extensions=applied.extensions,
    )  # fmt: skip
    secrets = ks.epoch_secrets(suite, init_secret, commit_secret, psk, context.to_bytes())
    return _epoch_state(suite, config, context, applied.tree, keys, secrets)


def _epoch_state(
    suite: CipherSuite,
    config: GroupConfig,
    context: GroupContext,
    tree: RatchetTree,
    keys: PathKeys,
    secrets: ks.EpochSecrets,
) -> EpochState:
    """An epoch's state once its context and secrets are known: confirmation tag, interim transcript hash (§8.2)
    and a fresh secret tree (§9)."""
    cth = context.confirmed_transcript_hash
    tag = ks.confirmation_tag(suite, secrets.confirmation_key, cth)
    secret_tree = SecretTree(
        suite, secrets.encryption_secret, tree.n_leaves,
        out_of_order_tolerance=config.out_of_order_tolerance,
        maximum_forward_distance=config.maximum_forward_distance,
    )  # fmt: skip
    return EpochState(context, tree, keys, secrets, secret_tree, ks.interim_transcript_hash(suite, cth, tag), tag)


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


def _apply_app_data(applied: AppliedProposals, updater: AppDataUpdater | None) -> None:
    """Let the application turn AppDataUpdate proposals into new GroupContext extensions."""
    if not applied.app_data_updates:
        return
    if updater is None:
        raise UnsupportedError("AppDataUpdate proposals need an application-supplied app_data_updater")
    extensions = updater(applied.extensions, tuple(applied.app_data_updates))
    check_unique_extensions(extensions)
    applied.extensions = extensions


def joined_tree(
    suite: CipherSuite,
    info: GroupInfo,
    given: RatchetTree | None,
    *,
    max_leaves: int | None = None,
    now: int | None = None,
) -> RatchetTree:
    """The tree a joiner adopts: from the GroupInfo or ``given``, signature, hash and contents checked."""
    context = info.group_context
    tree = _tree_from_group_info(info, given)
    if max_leaves is not None and tree.leaf_span() > max_leaves:
        raise LimitError(f"tree has a member beyond leaf index {max_leaves - 1}")
    signer = tree.leaf(info.signer)
    if signer is None:
        raise ValidationError("RFC 9420 §12.4.3.1: GroupInfo signer is not a member")
    info.verify(suite, signer.signature_key)
    if tree.tree_hash(suite) != context.tree_hash:
        raise ValidationError("RFC 9420 §12.4.3.1: ratchet tree hash differs from the GroupContext tree_hash")
    tree.validate(suite, context.group_id, required_capabilities(context.extensions), now=now)
    return tree


def _tree_from_group_info(info: GroupInfo, given: RatchetTree | None) -> RatchetTree:
    ext = find_extension(info.extensions, EXT_RATCHET_TREE)
    if ext is not None:
        return RatchetTree.from_extension_data(ext.extension_data)
    if given is None:
        raise ValidationError("RFC 9420 §12.4.3.3: GroupInfo has no ratchet_tree and none was supplied")
    return given.copy()


def _learn_path_secret(suite: CipherSuite, tree: RatchetTree, keys: PathKeys, signer: int, secret: bytes) -> None:
    """Derive keys from the Welcome's path_secret up the committer's filtered direct path (§12.4.3.1)."""
    ancestor = tm.leaf_common_ancestor(keys.leaf_index, signer)
    fdp = tree.filtered_direct_path(signer)
    if ancestor not in fdp:
        raise ValidationError("RFC 9420 §12.4.3.1: path_secret's node is not on the committer's filtered path")
    for p in fdp[fdp.index(ancestor) :]:
        sk, pk = node_key_pair(suite, secret)
        node = tree.node(p)
        if node is None or node.encryption_key != pk:
            raise ValidationError(f"RFC 9420 §12.4.3.1: path_secret does not match the public key of node {p}")
        keys.keys[p] = sk
        secret = suite.derive_secret(secret, b"path")
