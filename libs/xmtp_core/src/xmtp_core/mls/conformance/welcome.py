"""Conformance handler for welcome.json: decrypt GroupSecrets and GroupInfo, verify the GroupInfo
signature and its confirmation tag (RFC 9420 §12.4.3.1)."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.conformance.util import check, h, hpke_private_key
from xmtp_core.mls.framing import MLSMessage
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.welcome import Welcome
from xmtp_core.mls.welcome_crypto import decrypt_group_info, decrypt_group_secrets


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``welcome.json``; AssertionError names the first mismatch."""
    suite = get_cipher_suite(case["cipher_suite"])
    kp = MLSMessage.from_bytes(h(case["key_package"])).body
    welcome = MLSMessage.from_bytes(h(case["welcome"])).body
    assert isinstance(kp, KeyPackage) and isinstance(welcome, Welcome)
    secrets = decrypt_group_secrets(suite, welcome, kp.ref(suite), hpke_private_key(suite, case["init_priv"]))
    group_info = decrypt_group_info(suite, welcome, secrets.joiner_secret)
    group_info.verify(suite, h(case["signer_pub"]))
    epoch = ks.epoch_secrets_from_joiner(suite, secrets.joiner_secret, None, group_info.group_context.to_bytes())
    tag = ks.confirmation_tag(suite, epoch.confirmation_key, group_info.group_context.confirmed_transcript_hash)
    check("confirmation_tag", tag, group_info.confirmation_tag)
