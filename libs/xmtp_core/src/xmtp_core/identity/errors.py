"""Exceptions of the identity package: bad input, bad signatures, and refused identity updates.

`AssociationError.rule` names the association rule an update broke (see `Rule`), so callers (the devnode's
PublishIdentityUpdate, group membership checks) can report *why* without parsing messages. The libxmtp
error each rule corresponds to is noted next to it.
"""

from __future__ import annotations

from enum import StrEnum


class IdentityError(Exception):
    """Base class of every error raised by `xmtp_core.identity`."""


class InvalidIdentifierError(IdentityError, ValueError):
    """An identifier (address, key, account id) is malformed."""


class SignatureVerificationError(IdentityError):
    """A signature is malformed or does not verify against the text it claims to sign."""


class ScwVerifierRequiredError(SignatureVerificationError):
    """A smart-contract wallet signature appeared but no verifier was injected to check it."""


class SignerConfigurationError(IdentityError):
    """A signer could not be set up (missing or malformed key material)."""


class Rule(StrEnum):
    """The association rule an identity update broke."""

    MALFORMED_UPDATE = "malformed_update"  # libxmtp: Deserialization / ConversionError
    INVALID_SIGNATURE = "invalid_signature"  # libxmtp: Signature(SignatureError)
    MULTIPLE_CREATE = "multiple_create"  # libxmtp: MultipleCreate
    NOT_CREATED = "not_created"  # libxmtp: NotCreated
    CREATE_SIGNER_MISMATCH = "create_signer_mismatch"  # libxmtp: MissingExistingMember (in CreateInbox)
    INVALID_ACCOUNT_ADDRESS = "invalid_account_address"  # libxmtp: InvalidAccountAddress
    NEW_MEMBER_SIGNATURE_MISMATCH = "new_member_signature_mismatch"  # libxmtp: NewMemberIdSignatureMismatch
    ADD_SELF = "add_self"  # libxmtp: Generic("tried to add self")
    NOT_A_MEMBER = "existing_signer_not_a_member"  # libxmtp: MissingExistingMember (in AddAssociation)
    NOT_RECOVERY_IDENTIFIER = "signer_not_recovery_identifier"  # libxmtp: MissingExistingMember (revoke/change)
    SIGNATURE_KIND_NOT_ALLOWED = "signature_kind_not_allowed"  # libxmtp: SignatureNotAllowed
    INSTALLATION_ADDS_INSTALLATION = "installation_adds_installation"  # libxmtp: MemberNotAllowed
    LEGACY_SIGNATURE = "legacy_signature_not_allowed"  # libxmtp: LegacySignatureReuse
    CHAIN_ID_MISMATCH = "chain_id_mismatch"  # libxmtp: ChainIdMismatch
    REPLAY = "replayed_signature"  # libxmtp: Replay
    WRONG_INBOX_ID = "wrong_inbox_id"  # libxmtp: WrongInboxId
    SCW_VERIFIER_REQUIRED = "smart_contract_wallet_verifier_required"  # ours: no verifier was injected
    TOO_MANY_UPDATES = "too_many_identity_updates"  # xmtp-node-go PublishIdentityUpdate step 2 (256)
    TOO_MANY_INSTALLATIONS = "too_many_installations"  # libxmtp MAX_INSTALLATIONS_PER_INBOX (10), client side


class AssociationError(IdentityError):
    """An identity update (or a whole log) is invalid; `rule` says which rule it broke."""

    def __init__(self, rule: Rule, detail: str = "") -> None:
        self.rule = rule
        self.detail = detail
        super().__init__(f"{rule.value}: {detail}" if detail else rule.value)
