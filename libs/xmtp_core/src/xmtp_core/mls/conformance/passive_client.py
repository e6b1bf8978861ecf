"""Conformance handler for passive-client-*.json: join from a Welcome with a KeyPackage and its private
keys, then process each epoch's proposals and commit, checking every epoch_authenticator."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.conformance.util import check, h, hpke_private_key
from xmtp_core.mls.framing import MLSMessage
from xmtp_core.mls.group import Group, StagedCommit
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.own_key_package import OwnKeyPackage
from xmtp_core.mls.ratchet_tree import RatchetTree


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``passive-client-*.json``; AssertionError names the first mismatch."""
    suite = get_cipher_suite(case["cipher_suite"])
    kp = MLSMessage.from_bytes(h(case["key_package"])).body
    assert isinstance(kp, KeyPackage)
    sig_priv = h(case["signature_priv"])
    check("signature key", suite.signature_public_key(sig_priv), kp.leaf_node.signature_key)
    init_priv = hpke_private_key(suite, case["init_priv"])
    enc_priv = hpke_private_key(suite, case["encryption_priv"])
    bundle = OwnKeyPackage(kp, init_priv, enc_priv, sig_priv)
    tree = RatchetTree.from_extension_data(h(case["ratchet_tree"])) if case.get("ratchet_tree") else None
    psks = {h(p["psk_id"]): h(p["psk"]) for p in case.get("external_psks", [])}
    group = Group.join(MLSMessage.from_bytes(h(case["welcome"])), bundle, ratchet_tree=tree, external_psks=psks)
    check("initial_epoch_authenticator", group.epoch_authenticator, h(case["initial_epoch_authenticator"]))
    for n, epoch in enumerate(case["epochs"]):
        for proposal in epoch["proposals"]:
            group.process_message(MLSMessage.from_bytes(h(proposal)))
        staged = group.process_message(MLSMessage.from_bytes(h(epoch["commit"])))
        if not isinstance(staged, StagedCommit):
            raise AssertionError(f"epoch {n}: commit message did not produce a commit")
        group.merge_staged_commit(staged)
        check(f"epoch {n} epoch_authenticator", group.epoch_authenticator, h(epoch["epoch_authenticator"]))
