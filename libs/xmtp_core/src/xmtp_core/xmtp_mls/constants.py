"""XMTP's MLS profile code points and limits (reference: xmtp-mls-profile.md), in one place.

Extension and proposal numbers, the ciphersuite, lifetimes and labels that libxmtp (and the OpenMLS fork it
pins) put on the wire. Every other module in ``xmtp_core.xmtp_mls`` takes its numbers from here.
"""

from __future__ import annotations

from typing import Final

from xmtp_core.identity.association import MAX_INSTALLATIONS_PER_INBOX

# The only group ciphersuite libxmtp uses: MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519.
XMTP_CIPHERSUITE: Final = 0x0003

# Standard MLS extension types libxmtp uses.
EXT_APPLICATION_ID: Final = 0x0001
EXT_REQUIRED_CAPABILITIES: Final = 0x0003
EXT_APP_DATA_DICTIONARY: Final = 0x0006  # draft-ietf-mls-extensions; the opt-in "proposals" migration
EXT_LAST_RESORT: Final = 0x000A

# XMTP's private-range extension types.
EXT_IMMUTABLE_METADATA: Final = 0xF000  # OpenMLS `Metadata`: GroupMetadataV1 behind an extra varint length
EXT_MUTABLE_METADATA: Final = 0xFF00
EXT_GROUP_MEMBERSHIP: Final = 0xFF01
EXT_GROUP_PERMISSIONS: Final = 0xFF02
EXT_WELCOME_WRAPPER_ENCRYPTION: Final = 0xFF03
EXT_WELCOME_POINTEE_AEAD_TYPES: Final = 0xFF04
EXT_PROPOSAL_SUPPORT_RETIRED: Final = 0xFF05  # old PROPOSAL_SUPPORT; retired, tolerated when seen

PROPOSAL_GROUP_CONTEXT_EXTENSIONS: Final = 7
PROPOSAL_APP_DATA_UPDATE: Final = 8

CREDENTIAL_BASIC: Final = 1
PROTOCOL_MLS10: Final = 1

# Key-package leaf capabilities. libxmtp 1.9.1 (read from its key packages on devnode) advertises exactly
# LIBXMTP_1_9_CAPABILITY_EXTENSIONS and proposals [7]; HEAD adds AppDataDictionary 0x0006 and AppDataUpdate 8,
# which a client must advertise to join groups migrated to AppData. We send the HEAD set in 1.9.1's order.
LIBXMTP_1_9_CAPABILITY_EXTENSIONS: Final = (
    EXT_LAST_RESORT,
    EXT_APPLICATION_ID,
    EXT_GROUP_PERMISSIONS,
    EXT_MUTABLE_METADATA,
    EXT_GROUP_MEMBERSHIP,
    EXT_WELCOME_WRAPPER_ENCRYPTION,
    EXT_WELCOME_POINTEE_AEAD_TYPES,
    EXT_IMMUTABLE_METADATA,
)
KEY_PACKAGE_CAPABILITY_EXTENSIONS: Final = (*LIBXMTP_1_9_CAPABILITY_EXTENSIONS, EXT_APP_DATA_DICTIONARY)
KEY_PACKAGE_CAPABILITY_PROPOSALS: Final = (PROPOSAL_GROUP_CONTEXT_EXTENSIONS, PROPOSAL_APP_DATA_UPDATE)

# RequiredCapabilities of a new libxmtp group (`build_group_config`), in libxmtp's order.
GROUP_REQUIRED_EXTENSIONS: Final = (
    EXT_GROUP_MEMBERSHIP,
    EXT_MUTABLE_METADATA,
    EXT_GROUP_PERMISSIONS,
    EXT_IMMUTABLE_METADATA,
    EXT_LAST_RESORT,
    EXT_APPLICATION_ID,
)
GROUP_REQUIRED_PROPOSALS: Final = (PROPOSAL_GROUP_CONTEXT_EXTENSIONS,)
GROUP_REQUIRED_CREDENTIALS: Final = (CREDENTIAL_BASIC,)

# OpenMLS default leaf lifetime and the range libxmtp accepts (`MAX_LEAF_NODE_LIFETIME_RANGE_SECONDS`).
LIFETIME_MARGIN_SECONDS: Final = 3600
LIFETIME_SECONDS: Final = 84 * 24 * 3600
MAX_LIFETIME_RANGE_SECONDS: Final = LIFETIME_SECONDS + LIFETIME_MARGIN_SECONDS
KEY_PACKAGE_ROTATION_SECONDS: Final = 30 * 24 * 3600

WELCOME_HPKE_LABEL: Final = b"MLS_WELCOME"

MAX_GROUP_SIZE: Final = 250  # member inboxes (libxmtp `MAX_GROUP_SIZE`)
# Leaves of a full group: every inbox with libxmtp's most installations. Trees and commits beyond it are refused
# before their (linear but costly) validation.
MAX_GROUP_LEAVES: Final = MAX_GROUP_SIZE * MAX_INSTALLATIONS_PER_INBOX
# A commit's proposals: at most one per leaf, plus the GroupContextExtensions.
MAX_COMMIT_PROPOSALS: Final = MAX_GROUP_LEAVES + 1
MAX_PAST_EPOCHS: Final = 3
