"""XMTP's MLS profile over ``xmtp_core.mls`` (RFC 9420): what libxmtp puts on top of plain MLS.

Modules (pure functions and plain dataclasses, no I/O):
``constants`` (code points, lifetimes), ``credential`` (MlsCredential / ApplicationId), ``key_package`` (build
ours, validate peers'), ``welcome_wrapper`` (HPKE Welcome wrapper, X25519 / X-Wing, Welcome pointers),
``extensions`` (0xF000/0xFF00/0xFF01/0xFF02/RequiredCapabilities, DMs), ``policies`` (PolicySet presets and
commit evaluation), ``changes`` (what a commit changed), ``group_updated`` (transcript content),
``welcome_delivery`` (direct Welcomes or pointee + pointers as WelcomeMessageInput protos), ``join_checks``
(DM shape, initial membership vs association states), ``sender_hmac`` (push self-filter HMAC).
Message ids live in ``xmtp_core.content.message_id``.
"""

from xmtp_core.xmtp_mls.changes import summarize_commit
from xmtp_core.xmtp_mls.credential import build_credential, inbox_id_from_credential
from xmtp_core.xmtp_mls.errors import (
    CredentialError,
    ExtensionError,
    KeyPackageError,
    MembershipError,
    PolicyError,
    WelcomeWrapperError,
    XmtpMlsError,
)
from xmtp_core.xmtp_mls.extensions import (
    ConversationType,
    GroupExtensions,
    GroupMembership,
    GroupMetadata,
    MutableMetadata,
    new_dm_extensions,
    new_group_extensions,
    parse_group_extensions,
)
from xmtp_core.xmtp_mls.group_updated import group_updated_for_welcome, group_updated_from_commit
from xmtp_core.xmtp_mls.join_checks import check_initial_membership, validate_dm
from xmtp_core.xmtp_mls.key_package import KeyPackageBundle, PeerKeyPackage, build_key_package, parse_key_package
from xmtp_core.xmtp_mls.policies import (
    PolicySet,
    admin_only_policy,
    all_members_policy,
    dm_policy,
    evaluate_commit,
)
from xmtp_core.xmtp_mls.sender_hmac import sender_hmac
from xmtp_core.xmtp_mls.welcome_delivery import welcome_inputs
from xmtp_core.xmtp_mls.welcome_wrapper import WrapperAlgorithm, unwrap_welcome, wrap_welcome

__all__ = [
    "ConversationType",
    "CredentialError",
    "ExtensionError",
    "GroupExtensions",
    "GroupMembership",
    "GroupMetadata",
    "KeyPackageBundle",
    "KeyPackageError",
    "MembershipError",
    "MutableMetadata",
    "PeerKeyPackage",
    "PolicyError",
    "PolicySet",
    "WelcomeWrapperError",
    "WrapperAlgorithm",
    "XmtpMlsError",
    "admin_only_policy",
    "all_members_policy",
    "build_credential",
    "build_key_package",
    "check_initial_membership",
    "dm_policy",
    "evaluate_commit",
    "group_updated_for_welcome",
    "group_updated_from_commit",
    "inbox_id_from_credential",
    "new_dm_extensions",
    "new_group_extensions",
    "parse_group_extensions",
    "parse_key_package",
    "sender_hmac",
    "summarize_commit",
    "unwrap_welcome",
    "validate_dm",
    "welcome_inputs",
    "wrap_welcome",
]
