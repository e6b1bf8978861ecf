"""A group's state (RFC 9420 §8, §11) and the derivation of a new epoch from it.

:class:`GroupState` holds everything one member keeps of one group: the current epoch, a few past epochs,
queued proposals and the private keys. It also frames, signs and protects content for the current epoch
(§6) and derives the epoch a commit creates (§8, §8.2). Creating commits (``commit_creation``), processing
messages (``commit_processing``) and joining (``joining``) build on it; :class:`~xmtp_core.mls.group.Group`
is the public face over all of them, and ``group_state_codec`` persists a GroupState.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls.app_data import AppDataUpdater
from xmtp_core.mls.cipher_suite import CipherSuite
from xmtp_core.mls.errors import UnsupportedError, ValidationError
from xmtp_core.mls.extensions import EXT_EXTERNAL_PUB, EXT_RATCHET_TREE, Extension, ExternalPub, check_unique_extensions
from xmtp_core.mls.framing import (
    SENDER_MEMBER,
    WIRE_PRIVATE_MESSAGE,
    WIRE_PUBLIC_MESSAGE,
    AuthenticatedContent,
    FramedContent,
    MLSMessage,
    Sender,
)
from xmtp_core.mls.group_context import GroupContext
from xmtp_core.mls.group_info import GroupInfo
from xmtp_core.mls.message_protection import confirmed_transcript_input, encrypt_private, to_public_message
from xmtp_core.mls.proposal_validation import AppliedProposals
from xmtp_core.mls.proposals import Commit, Proposal
from xmtp_core.mls.psk import resolve_psk_secret
from xmtp_core.mls.ratchet_tree import RatchetTree
from xmtp_core.mls.secret_tree import SecretTree
from xmtp_core.mls.treekem import PathKeys

PROPOSAL_REF_LABEL = b"MLS 1.0 Proposal Reference"


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
        """This member's leaf index."""
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
    """A proposal received (or sent) by reference, queued for the next commit."""

    ref: bytes
    proposal: Proposal
    sender: Sender


@dataclass
class GroupState:
    """One client's view of one group: its epochs, queued proposals and private keys."""

    suite: CipherSuite
    signature_priv: bytes = field(repr=False)
    epoch_state: EpochState
    config: GroupConfig = field(default_factory=GroupConfig)
    past_epochs: list[PastEpoch] = field(default_factory=list)
    pending_proposals: list[PendingProposal] = field(default_factory=list)
    pending_update_keys: dict[bytes, bytes] = field(default_factory=dict, repr=False)  # ref -> leaf HPKE priv
    external_psks: dict[bytes, bytes] = field(default_factory=dict, repr=False)
    active: bool = True

    # ---- read-only views ------------------------------------------------------------------------------
    @property
    def group_id(self) -> bytes:
        """The group's id."""
        return self.epoch_state.context.group_id

    @property
    def epoch(self) -> int:
        """The current epoch number."""
        return self.epoch_state.context.epoch

    @property
    def context(self) -> GroupContext:
        """The current epoch's GroupContext."""
        return self.epoch_state.context

    @property
    def tree(self) -> RatchetTree:
        """The current epoch's ratchet tree."""
        return self.epoch_state.tree

    @property
    def own_leaf_index(self) -> int:
        """This member's leaf index."""
        return self.epoch_state.own_leaf

    def require_active(self) -> None:
        """ValidationError once this member has been removed."""
        if not self.active:
            raise ValidationError("RFC 9420 §12.1.3: this member was removed from the group")

    # ---- framing and protection for the current epoch (§6) --------------------------------------------
    def framed(
        self,
        content_type: int,
        authenticated_data: bytes,
        *,
        application_data: bytes = b"",
        proposal: Proposal | None = None,
        commit: Commit | None = None,
    ) -> FramedContent:
        """Content from this member in the current epoch."""
        self.require_active()
        s = self.epoch_state
        return FramedContent(
            s.context.group_id, s.context.epoch, Sender.member(s.own_leaf), authenticated_data, content_type,
            application_data, proposal, commit,
        )  # fmt: skip

    def protect(self, ac: AuthenticatedContent) -> MLSMessage:
        """Signed content as the PrivateMessage or PublicMessage its wire format says."""
        s = self.epoch_state
        if ac.wire_format == WIRE_PRIVATE_MESSAGE:
            msg = encrypt_private(self.suite, ac, s.secret_tree, s.secrets.sender_data_secret, self.config.padding)
            return MLSMessage.wrap(msg)
        return MLSMessage.wrap(to_public_message(self.suite, ac, s.secrets.membership_key, s.context))

    def handshake_wire_format(self) -> int:
        """The wire format of proposals and commits under this group's config."""
        return WIRE_PRIVATE_MESSAGE if self.config.encrypt_handshake else WIRE_PUBLIC_MESSAGE

    def proposal_ref(self, ac: AuthenticatedContent) -> bytes:
        """ProposalRef of a proposal's AuthenticatedContent (RFC 9420 §5.2)."""
        return self.suite.ref_hash(PROPOSAL_REF_LABEL, ac.to_bytes())

    def signature_key(self, sender: Sender) -> bytes:
        """The current signature key of a member sender."""
        if sender.sender_type != SENDER_MEMBER:
            raise UnsupportedError("RFC 9420 §6: external and new-member proposal senders are not supported")
        return self.epoch_state.tree.member_leaf(sender.index).signature_key

    def group_info(self, state: EpochState, with_ratchet_tree: bool, with_external_pub: bool = False) -> GroupInfo:
        """A GroupInfo for epoch ``state``, signed by this member (RFC 9420 §12.4.3)."""
        extensions: tuple[Extension, ...] = ()
        if with_ratchet_tree:
            extensions = (Extension(EXT_RATCHET_TREE, state.tree.to_extension_data()),)
        if with_external_pub:
            _, external_pub = ks.external_key_pair(self.suite, state.secrets.external_secret)
            extensions = (*extensions, Extension(EXT_EXTERNAL_PUB, ExternalPub(external_pub).to_bytes()))
        info = GroupInfo(state.context, extensions, state.confirmation_tag, state.own_leaf)
        return info.signed(self.suite, self.signature_priv)

    # ---- the next epoch ---------------------------------------------------------------------------------
    def provisional_context(self, applied: AppliedProposals) -> GroupContext:
        """The next epoch's GroupContext before the transcript hash is known (RFC 9420 §12.4.1)."""
        ctx = self.epoch_state.context
        return replace(
            ctx, epoch=ctx.epoch + 1, tree_hash=applied.tree.tree_hash(self.suite), extensions=applied.extensions
        )

    def next_epoch(
        self,
        applied: AppliedProposals,
        commit_secret: bytes | None,
        ac: AuthenticatedContent,
        keys: PathKeys,
        init_secret: bytes | None = None,
    ) -> EpochState:
        """The epoch commit ``ac`` creates from the current one."""
        s = self.epoch_state
        return derive_epoch_state(
            self.suite, self.config, s.context, s.interim_transcript_hash,
            init_secret if init_secret is not None else s.secrets.init_secret, self.commit_psk_secret(applied),
            applied, commit_secret, ac, keys,
        )  # fmt: skip

    def commit_psk_secret(self, applied: AppliedProposals) -> bytes | None:
        """psk_secret of the PreSharedKey proposals a commit covers (RFC 9420 §8.4), None without any."""
        return resolve_psk_secret(self.suite, applied.psks, self.external_psks, self._resumption_psks(), self.group_id)

    def _resumption_psks(self) -> dict[int, bytes]:
        out = {p.context.epoch: p.resumption_psk for p in self.past_epochs}
        out[self.epoch] = self.epoch_state.secrets.resumption_psk
        return out


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
    return new_epoch_state(suite, config, context, applied.tree, keys, secrets)


def new_epoch_state(
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


def apply_app_data(applied: AppliedProposals, updater: AppDataUpdater | None) -> None:
    """Let the application turn AppDataUpdate proposals into new GroupContext extensions."""
    if not applied.app_data_updates:
        return
    if updater is None:
        raise UnsupportedError("AppDataUpdate proposals need an application-supplied app_data_updater")
    extensions = updater(applied.extensions, tuple(applied.app_data_updates))
    check_unique_extensions(extensions)
    applied.extensions = extensions
