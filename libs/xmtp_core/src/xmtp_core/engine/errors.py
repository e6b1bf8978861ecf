"""Why the engine refused an envelope or an intent: one reason code per kind of failure, plus the exception.

Details often quote attacker bytes (an inbox id, a parse error), so they are cleaned and bounded here, at the
source, before any caller can store or log them."""

from __future__ import annotations

import enum

from xmtp_core.untrusted import clean


class RejectReason(enum.StrEnum):
    """Machine-readable reason codes, stored with every refused envelope or intent."""

    DECRYPT_FAILED = "decrypt_failed"
    DUPLICATE = "duplicate"
    EPOCH_TOO_OLD = "epoch_too_old"
    EPOCH_IN_FUTURE = "epoch_in_future"
    STALE_COMMIT = "stale_commit"  # a commit for an epoch another commit already closed: its author rebuilds it
    INVALID_COMMIT = "invalid_commit"
    SEQUENCE_ID_DECREASED = "sequence_id_decreased"
    INSTALLATION_DIFF = "installation_diff"
    CREDENTIAL_CHANGED = "credential_changed"  # a leaf rewritten with another inbox id (impersonation)
    IMMUTABLE_METADATA_CHANGED = "immutable_metadata_changed"
    POLICY_DENIED = "policy_denied"
    PSK_NOT_ALLOWED = "psk_not_allowed"
    MULTIPLE_ACTORS = "multiple_actors"
    SENDER_NOT_A_MEMBER = "sender_not_a_member"
    BAD_CONTENT = "bad_content"
    OWN_COMMIT_UNKNOWN = "own_commit_unknown"
    GROUP_INACTIVE = "group_inactive"
    WELCOME_NOT_FOR_US = "welcome_not_for_us"
    WELCOME_INVALID = "welcome_invalid"
    JOINER_CHECK_FAILED = "joiner_check_failed"
    IDENTITY_UNVERIFIABLE = "identity_unverifiable"  # an inbox's identity log cannot be verified (e.g. an SCW)
    MALFORMED_INBOX_ID = "malformed_inbox_id"
    LIFETIME_INVALID = "lifetime_invalid"  # a key package or leaf used outside its lifetime
    TOO_LARGE = "too_large"  # beyond XMTP's limits (1 MiB per envelope, 250 inboxes, 2,500 leaves)
    # Set by the runtime's last-resort guard, not the engine: processing raised something no rule names (a
    # poison envelope), or a transient failure kept recurring on the same envelope.
    UNEXPECTED = "unexpected"
    RETRIES_EXHAUSTED = "retries_exhausted"


class EngineError(Exception):
    """Bad input to the engine (an unknown intent kind, a member that is not in the group, ...)."""


class Rejected(EngineError):
    """An envelope or intent the engine refuses, with a machine-readable reason."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        safe = clean(detail)
        super().__init__(f"{reason.value}: {safe}")
        self.reason = reason
        self.detail = safe
