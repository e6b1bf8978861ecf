"""Conformance handler for ``psk_secret.json``: chaining external PSKs (RFC 9420 §8.4)."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls import psk
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.conformance.util import check, h


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``psk_secret.json``; AssertionError names the first mismatch."""
    cs = get_cipher_suite(case["cipher_suite"])
    pairs = [
        (psk.PreSharedKeyID(psk.PSK_EXTERNAL, psk_id=h(p["psk_id"]), psk_nonce=h(p["psk_nonce"])), h(p["psk"]))
        for p in case["psks"]
    ]
    check("psk_secret", psk.psk_secret(cs, pairs), h(case["psk_secret"]))
