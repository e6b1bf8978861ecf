"""Welcome decryption: a Welcome for someone else or with a bad GroupInfo signature (the welcome.json cases run
in ``test_official_vectors.py``)."""

from __future__ import annotations

from typing import Any

import pytest
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.errors import SignatureError, ValidationError
from xmtp_core.mls.framing import MLSMessage
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.welcome import Welcome
from xmtp_core.mls.welcome_crypto import decrypt_group_info, decrypt_group_secrets

from ._vectors import load

CASES = load("welcome")


def _parse(case: dict[str, Any]) -> tuple[KeyPackage, Welcome]:
    kp = MLSMessage.from_bytes(bytes.fromhex(case["key_package"])).body
    welcome = MLSMessage.from_bytes(bytes.fromhex(case["welcome"])).body
    assert isinstance(kp, KeyPackage) and isinstance(welcome, Welcome)
    return kp, welcome


def test_welcome_for_other_key_package_rejected() -> None:
    case = CASES[0]
    suite = get_cipher_suite(case["cipher_suite"])
    _, welcome = _parse(case)
    with pytest.raises(ValidationError, match="no secrets"):
        decrypt_group_secrets(suite, welcome, b"\x00" * suite.hash_len, bytes.fromhex(case["init_priv"]))


def test_group_info_signature_checked_against_signer() -> None:
    case = CASES[0]
    suite = get_cipher_suite(case["cipher_suite"])
    kp, welcome = _parse(case)
    secrets = decrypt_group_secrets(suite, welcome, kp.ref(suite), bytes.fromhex(case["init_priv"]))
    info = decrypt_group_info(suite, welcome, secrets.joiner_secret)
    with pytest.raises(SignatureError):
        info.verify(suite, kp.leaf_node.signature_key)
