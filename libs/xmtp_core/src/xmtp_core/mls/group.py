"""The MLS group (RFC 9420 §8, §11, §12): one object holding one member's view of one group.

:class:`Group` creates groups, joins from a Welcome, protects application messages and proposals, creates
commits (with or without an UpdatePath, plus a Welcome for new members) and processes incoming messages.
Commits, own or received, come back as a :class:`StagedCommit` that the caller inspects and then merges with
:meth:`Group.merge_staged_commit`, so an application can apply its own policy first.

The work is split by concern, as OpenMLS splits it: ``group_state`` (the state and the next epoch's
derivation), ``commit_creation``, ``commit_processing``, ``joining`` and ``processed`` (what processing
yields); ``group_state_codec`` persists the state. This module re-exports the names callers use.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls.app_data import AppDataUpdater
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.commit_creation import create_commit
from xmtp_core.mls.commit_processing import peek_sender, process_message
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import EpochError
from xmtp_core.mls.extensions import PROTOCOL_MLS10, Capabilities, Extension, check_unique_extensions
from xmtp_core.mls.framing import CONTENT_APPLICATION, CONTENT_PROPOSAL, WIRE_PRIVATE_MESSAGE, MLSMessage, Sender
from xmtp_core.mls.group_context import GroupContext
from xmtp_core.mls.group_info import GroupInfo
from xmtp_core.mls.group_state import (
    EpochState,
    GroupConfig,
    GroupState,
    PastEpoch,
    PendingProposal,
    derive_epoch_state,
    new_epoch_state,
)
from xmtp_core.mls.group_state_codec import decode_group, encode_group
from xmtp_core.mls.joining import join_from_welcome, joined_tree
from xmtp_core.mls.kem import forget_private_keys
from xmtp_core.mls.leaf_node import SOURCE_KEY_PACKAGE, SOURCE_UPDATE, LeafNode
from xmtp_core.mls.message_protection import authenticate
from xmtp_core.mls.own_key_package import OwnKeyPackage, default_capabilities, default_lifetime
from xmtp_core.mls.processed import ApplicationMessage, ProcessedMessage, ProposalMessage, StagedCommit
from xmtp_core.mls.proposal_validation import required_capabilities
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.treekem import PathKeys
from xmtp_core.mls.welcome import Welcome

__all__ = [
    "ApplicationMessage",
    "EpochState",
    "Group",
    "GroupConfig",
    "PastEpoch",
    "PendingProposal",
    "ProcessedMessage",
    "ProposalMessage",
    "StagedCommit",
    "derive_epoch_state",
    "joined_tree",
]


class Group(GroupState):
    """One client's view of one group."""

    # ---- creation and joining ---------------------------------------------------------------------------
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
        state = new_epoch_state(suite, cfg, context, tree, PathKeys(0, {0: enc_priv}), secrets)
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
        return join_from_welcome(
            cls, welcome, bundle, ratchet_tree=ratchet_tree, external_psks=external_psks, config=config,
            max_leaves=max_leaves, now=now,
        )  # fmt: skip

    # ---- read-only views ------------------------------------------------------------------------------
    @property
    def epoch_authenticator(self) -> bytes:
        """The current epoch's epoch_authenticator (RFC 9420 §8.7)."""
        return self.epoch_state.secrets.epoch_authenticator

    @property
    def extensions(self) -> tuple[Extension, ...]:
        """The current GroupContext extensions."""
        return self.epoch_state.context.extensions

    def members(self) -> list[tuple[int, LeafNode]]:
        """(leaf index, leaf) of every member."""
        return list(self.epoch_state.tree.leaves())

    def export_group_info(self, *, with_ratchet_tree: bool = True, with_external_pub: bool = False) -> GroupInfo:
        """A GroupInfo for the current epoch signed by this member (RFC 9420 §12.4.3).

        ``with_external_pub`` adds the external_pub extension that lets a non-member join by external commit.
        """
        return self.group_info(self.epoch_state, with_ratchet_tree, with_external_pub)

    def export_secret(self, label: bytes, context: bytes, length: int) -> bytes:
        """MLS-Exporter of the current epoch (RFC 9420 §8.5)."""
        return ks.mls_exporter(self.suite, self.epoch_state.secrets.exporter_secret, label, context, length)

    # ---- sending --------------------------------------------------------------------------------------
    def encrypt_application(self, data: bytes, authenticated_data: bytes = b"") -> MLSMessage:
        """An application message as a PrivateMessage (RFC 9420 §6.3)."""
        content = self.framed(CONTENT_APPLICATION, authenticated_data, application_data=data)
        ac = authenticate(self.suite, self.signature_priv, WIRE_PRIVATE_MESSAGE, content, self.context)
        return self.protect(ac)

    def propose(self, proposal: Proposal, authenticated_data: bytes = b"") -> MLSMessage:
        """Send a proposal by reference; it is also queued locally for the next commit."""
        content = self.framed(CONTENT_PROPOSAL, authenticated_data, proposal=proposal)
        ac = authenticate(self.suite, self.signature_priv, self.handshake_wire_format(), content, self.context)
        ref = self.proposal_ref(ac)
        self.pending_proposals.append(PendingProposal(ref, proposal, content.sender))
        return self.protect(ac)

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
        return create_commit(
            self, proposals, include_pending=include_pending, force_path=force_path,
            authenticated_data=authenticated_data, now=now, app_data_updater=app_data_updater,
        )  # fmt: skip

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
        return process_message(
            self, message, now=now, app_data_updater=app_data_updater, max_leaves=max_leaves,
            max_proposals=max_proposals,
        )  # fmt: skip

    def peek_sender(self, message: MLSMessage) -> Sender:
        """The sender of a group message without consuming any key; lets callers skip their own echoes.

        For a PrivateMessage only the sender data is decrypted (RFC 9420 §6.3.2); nothing is authenticated yet.
        """
        return peek_sender(self, message)

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

    # ---- persistence ----------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The whole state in ``group_state_codec``'s format."""
        return encode_group(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Group:
        """A group restored from :meth:`to_bytes` output."""
        return decode_group(data, cls)
