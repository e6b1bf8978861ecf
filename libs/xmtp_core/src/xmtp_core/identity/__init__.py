"""XMTP identity: inbox ids, identity-update signature text and signatures, signers, update building, and the
association state machine that replays and verifies an inbox's identity-update log.

Entry points for services: `verify_log` / `apply_update` (async, smart-contract wallets through an injected
verifier) or their `_sync` twins, `diff`, `check_can_append`, and `validate_append[_sync]` (a node's whole
PublishIdentityUpdate check); builders `build_register` & co.
"""

from xmtp_core.identity.association import (
    MAX_IDENTITY_UPDATES_PER_INBOX,
    MAX_INSTALLATIONS_PER_INBOX,
    Appended,
    apply_update,
    apply_update_sync,
    check_can_append,
    validate_append,
    validate_append_sync,
    verify_log,
    verify_log_entries,
    verify_log_sync,
)
from xmtp_core.identity.builder import (
    UpdateBuilder,
    build_add_installation,
    build_change_recovery,
    build_link_wallet,
    build_register,
    build_revoke_installation,
    build_unlink_wallet,
)
from xmtp_core.identity.errors import (
    AssociationError,
    IdentityError,
    InvalidIdentifierError,
    Rule,
    ScwVerifierRequiredError,
    SignatureVerificationError,
    SignerConfigurationError,
)
from xmtp_core.identity.identifiers import (
    EthereumAddress,
    InstallationKey,
    MemberIdentifier,
    MemberKind,
    Passkey,
    RootIdentifier,
    ethereum_address,
    installation_key,
    passkey,
)
from xmtp_core.identity.inbox_id import (
    INBOX_ID_LENGTH,
    NODE_SDK_DEFAULT_NONCE,
    RUST_CORE_DEFAULT_NONCE,
    InvalidInboxIdError,
    inbox_id,
    is_inbox_id,
    require_inbox_id,
)
from xmtp_core.identity.scw_verifier import IdentityApiScwVerifier
from xmtp_core.identity.signature_text import signature_text
from xmtp_core.identity.signatures import ScwVerification, SmartContractWalletVerifier
from xmtp_core.identity.signer import InstallationKeySigner, LocalWalletSigner, Signer, SmartContractWalletSigner
from xmtp_core.identity.state import AssociationState, AssociationStateDiff, Member, diff

__all__ = [
    "INBOX_ID_LENGTH",
    "MAX_IDENTITY_UPDATES_PER_INBOX",
    "MAX_INSTALLATIONS_PER_INBOX",
    "NODE_SDK_DEFAULT_NONCE",
    "RUST_CORE_DEFAULT_NONCE",
    "Appended",
    "AssociationError",
    "AssociationState",
    "AssociationStateDiff",
    "EthereumAddress",
    "IdentityApiScwVerifier",
    "IdentityError",
    "InstallationKey",
    "InstallationKeySigner",
    "InvalidIdentifierError",
    "InvalidInboxIdError",
    "LocalWalletSigner",
    "Member",
    "MemberIdentifier",
    "MemberKind",
    "Passkey",
    "RootIdentifier",
    "Rule",
    "ScwVerification",
    "ScwVerifierRequiredError",
    "SignatureVerificationError",
    "Signer",
    "SignerConfigurationError",
    "SmartContractWalletSigner",
    "SmartContractWalletVerifier",
    "UpdateBuilder",
    "apply_update",
    "apply_update_sync",
    "build_add_installation",
    "build_change_recovery",
    "build_link_wallet",
    "build_register",
    "build_revoke_installation",
    "build_unlink_wallet",
    "check_can_append",
    "diff",
    "ethereum_address",
    "inbox_id",
    "installation_key",
    "is_inbox_id",
    "passkey",
    "require_inbox_id",
    "signature_text",
    "validate_append",
    "validate_append_sync",
    "verify_log",
    "verify_log_entries",
    "verify_log_sync",
]
