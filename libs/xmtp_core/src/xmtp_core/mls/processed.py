"""What processing a group message yields (RFC 9420 §12.4.2): application data, a queued proposal, or a
validated commit staged for the caller to inspect and merge."""

from __future__ import annotations

from dataclasses import dataclass, field

from xmtp_core.mls.framing import MLSMessage, Sender
from xmtp_core.mls.group_info import GroupInfo
from xmtp_core.mls.group_state import EpochState
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.proposal_validation import AppliedProposals, ProposalEntry
from xmtp_core.mls.proposals import Proposal


@dataclass(frozen=True)
class ApplicationMessage:
    """Application data from member ``sender`` in ``epoch``."""

    sender: int
    epoch: int
    data: bytes = field(repr=False)  # plaintext
    authenticated_data: bytes


@dataclass(frozen=True)
class ProposalMessage:
    """A proposal received by reference and queued for the next commit."""

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
        """(leaf index, KeyPackage) of each member the commit adds."""
        return self.applied.added

    @property
    def removed(self) -> list[int]:
        """Leaf indices the commit removes."""
        return self.applied.removed


ProcessedMessage = ApplicationMessage | ProposalMessage | StagedCommit
