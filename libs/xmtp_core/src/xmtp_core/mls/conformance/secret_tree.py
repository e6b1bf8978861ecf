"""Conformance handler for ``secret-tree.json``: sender-data keys and per-leaf ratchets (RFC 9420 §6.3.2, §9)."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.conformance.util import check, h
from xmtp_core.mls.secret_tree import RatchetType, SecretTree, sender_data_key_nonce


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``secret-tree.json``; AssertionError names the first mismatch."""
    cs = get_cipher_suite(case["cipher_suite"])
    sd = case["sender_data"]
    key, nonce = sender_data_key_nonce(cs, h(sd["sender_data_secret"]), h(sd["ciphertext"]))
    check("sender_data key", key, h(sd["key"]))
    check("sender_data nonce", nonce, h(sd["nonce"]))

    leaves = case["leaves"]
    tree = SecretTree(cs, h(case["encryption_secret"]), len(leaves))
    for leaf, generations in enumerate(leaves):
        for g in generations:
            gen = g["generation"]
            for rt, prefix in ((RatchetType.HANDSHAKE, "handshake"), (RatchetType.APPLICATION, "application")):
                got = tree.key_for(leaf, rt, gen)
                check(f"leaf {leaf} gen {gen} {prefix}_key", got.key, h(g[f"{prefix}_key"]))
                check(f"leaf {leaf} gen {gen} {prefix}_nonce", got.nonce, h(g[f"{prefix}_nonce"]))
