"""Exceptions of the XMTP MLS profile layer (``xmtp_core.xmtp_mls``).

Everything raised for bad peer input or a failed XMTP-specific check derives from :class:`XmtpMlsError`;
the subclasses name the concern (credential, key package, welcome wrapper, extensions, policies).
"""

from __future__ import annotations


class XmtpMlsError(Exception):
    """Base class for XMTP MLS profile failures."""


class CredentialError(XmtpMlsError):
    """A credential is not an XMTP credential (BasicCredential carrying an MlsCredential proto)."""


class CredentialChangeError(CredentialError):
    """A commit rewrote a member's leaf with another credential: in XMTP a leaf's inbox id never changes."""


class KeyPackageError(XmtpMlsError):
    """A key package is malformed or breaks XMTP's key-package rules."""


class WelcomeWrapperError(XmtpMlsError):
    """A Welcome (or Welcome pointer) cannot be wrapped or unwrapped with the given keys."""


class ExtensionError(XmtpMlsError):
    """A group-context extension is missing, malformed, or not what XMTP expects."""


class ImmutableMetadataError(ExtensionError):
    """A commit changed the immutable metadata (0xF000: conversation type, creator, DM members)."""


class PolicyError(XmtpMlsError):
    """A permission policy is malformed (unknown base, empty condition, missing policy)."""


class MembershipError(XmtpMlsError):
    """A GroupMembership transition is invalid (for example a sequence id went down)."""
