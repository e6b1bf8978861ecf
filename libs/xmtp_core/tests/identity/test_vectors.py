"""Published test vectors the identity code must reproduce byte for byte.

Sources:
* libxmtp `xmtp_id/src/associations/unsigned_actions.rs`, test `create_signatures` (MIT, xmtp/libxmtp):
  the six-action signature text and its inbox id (nonce 0); the nonce-1 inbox id is from the project's
  reference `xmtp-identity.md` §1.
* RFC 8032 §7.3, "TEST abc" for Ed25519ph.
* viem documentation, `signMessage`: Anvil/Hardhat account #0 (the well-known development key) signing
  "hello world" with personal_sign.
"""

from __future__ import annotations

import pytest
from Crypto.Hash import SHA512
from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa
from xmtp_core.identity import EthereumAddress, InstallationKey, ethereum_address, inbox_id, signature_text
from xmtp_core.identity.signature_text import (
    UnsignedAction,
    UnsignedAddAssociation,
    UnsignedChangeRecoveryAddress,
    UnsignedCreateInbox,
    UnsignedRevokeAssociation,
    format_timestamp,
)
from xmtp_core.identity.signatures import (
    address_from_private_key,
    ed25519_public_key,
    recover_eip191,
    sign_eip191,
    verify_ed25519ph,
)

LIBXMTP_OWNER = "0x1234567890abcdef1234567890abcdef12345678"

LIBXMTP_SIX_ACTION_TEXT = """XMTP : Authenticate to inbox

Inbox ID: fcd18d86276d7a99fe522dba9660c420f03c8648785ada7c5daae232a3df77a9
Current time: 1970-01-01T00:00:00Z

- Create inbox
  (Owner: 0x1234567890abcdef1234567890abcdef12345678)
- Link address to inbox
  (Address: 0x4567890abcdef1234567890abcdef12345678123)
- Grant messaging access to app
  (ID: 010203)
- Unlink address from inbox
  (Address: 0x4567890abcdef1234567890abcdef12345678123)
- Revoke messaging access from app
  (ID: 010203)
- Change inbox recovery address
  (Address: 0x7890abcdef1234567890abcdef12345678123456)

For more info: https://xmtp.org/signatures"""


@pytest.mark.parametrize(
    ("nonce", "expected"),
    [
        (0, "fcd18d86276d7a99fe522dba9660c420f03c8648785ada7c5daae232a3df77a9"),
        (1, "a38db5b39c536ce8cda4a67ce2a2d2fee6360dd0935875f26138e7899d6c15f7"),
    ],
)
def test_inbox_id_vectors(nonce: int, expected: str) -> None:
    assert inbox_id(ethereum_address(LIBXMTP_OWNER), nonce) == expected


def test_inbox_id_of_checksummed_input_matches_after_normalisation() -> None:
    mixed = "0x1234567890ABCDEF1234567890abcdef12345678"
    assert inbox_id(ethereum_address(mixed), 0) == inbox_id(ethereum_address(LIBXMTP_OWNER), 0)
    # Hashed as given, a non-lower-case address gives another inbox id: canonicalise before deriving.
    assert inbox_id(EthereumAddress(mixed), 0) != inbox_id(ethereum_address(LIBXMTP_OWNER), 0)


def test_libxmtp_six_action_signature_text() -> None:
    owner = ethereum_address(LIBXMTP_OWNER)
    member = ethereum_address("0x4567890abcdef1234567890abcdef12345678123")
    installation = InstallationKey(bytes([1, 2, 3]))
    actions: list[UnsignedAction] = [
        UnsignedCreateInbox(owner, 0),
        UnsignedAddAssociation(member),
        UnsignedAddAssociation(installation),
        UnsignedRevokeAssociation(member),
        UnsignedRevokeAssociation(installation),
        UnsignedChangeRecoveryAddress(ethereum_address("0x7890abcdef1234567890abcdef12345678123456")),
    ]
    text = signature_text(inbox_id(owner, 0), 12, actions)
    assert text == LIBXMTP_SIX_ACTION_TEXT
    assert text.encode() == LIBXMTP_SIX_ACTION_TEXT.encode()


@pytest.mark.parametrize(
    ("ns", "expected"),
    [
        (12, "1970-01-01T00:00:00Z"),
        (1_700_000_000_000_000_000, "2023-11-14T22:13:20Z"),
        (1_700_000_000_999_999_999, "2023-11-14T22:13:20Z"),
    ],
)
def test_timestamp_is_rfc3339_seconds_floor(ns: int, expected: str) -> None:
    assert format_timestamp(ns) == expected


RFC8032_SECRET = bytes.fromhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
RFC8032_PUBLIC = bytes.fromhex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
RFC8032_SIGNATURE = bytes.fromhex(
    "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41"
    "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
)


def test_rfc8032_ed25519ph_vector_with_the_same_primitive() -> None:
    """Our Ed25519ph path (pycryptodome 'rfc8032' + SHA-512 pre-hash) reproduces RFC 8032's Ed25519ph vector."""
    assert ed25519_public_key(RFC8032_SECRET) == RFC8032_PUBLIC
    key = ECC.construct(curve="Ed25519", seed=RFC8032_SECRET)
    assert eddsa.new(key, "rfc8032").sign(SHA512.new(b"abc")) == RFC8032_SIGNATURE
    verify_ed25519ph(RFC8032_PUBLIC, "abc", RFC8032_SIGNATURE, context=b"")


ANVIL_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
ANVIL_ADDRESS = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
VIEM_HELLO_WORLD = bytes.fromhex(
    "a461f509887bd19e312c0c58467ce8ff8e300d3c1a90b608a760c5b80318eaf1"
    "5fe57c96f9175d6cd4daad4663763baa7e78836e067d0163e9a2ccf2ff753f5b1b"
)


def test_eip191_personal_sign_vector() -> None:
    assert address_from_private_key(ANVIL_KEY) == EthereumAddress(ANVIL_ADDRESS)
    assert sign_eip191(ANVIL_KEY, "hello world") == VIEM_HELLO_WORLD
    assert recover_eip191("hello world", VIEM_HELLO_WORLD).signer == EthereumAddress(ANVIL_ADDRESS)
