"""Conformance handler for ``crypto-basics.json``: RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret,
SignWithLabel and EncryptWithLabel (RFC 9420 §5, §8)."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls.cipher_suite import CipherSuite, get_cipher_suite
from xmtp_core.mls.conformance.util import check, h, hpke_private_key


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``crypto-basics.json``; AssertionError names the first mismatch."""
    cs = get_cipher_suite(case["cipher_suite"])
    _ref_hash(cs, case["ref_hash"])
    _expand_with_label(cs, case["expand_with_label"])
    _derive_secret(cs, case["derive_secret"])
    _derive_tree_secret(cs, case["derive_tree_secret"])
    _sign_with_label(cs, case["sign_with_label"])
    _encrypt_with_label(cs, case["encrypt_with_label"])


def _ref_hash(cs: CipherSuite, v: dict[str, Any]) -> None:
    check("ref_hash", cs.ref_hash(v["label"].encode(), h(v["value"])), h(v["out"]))


def _expand_with_label(cs: CipherSuite, v: dict[str, Any]) -> None:
    out = cs.expand_with_label(h(v["secret"]), v["label"].encode(), h(v["context"]), v["length"])
    check("expand_with_label", out, h(v["out"]))


def _derive_secret(cs: CipherSuite, v: dict[str, Any]) -> None:
    check("derive_secret", cs.derive_secret(h(v["secret"]), v["label"].encode()), h(v["out"]))


def _derive_tree_secret(cs: CipherSuite, v: dict[str, Any]) -> None:
    out = cs.derive_tree_secret(h(v["secret"]), v["label"].encode(), v["generation"], v["length"])
    check("derive_tree_secret", out, h(v["out"]))


def _sign_with_label(cs: CipherSuite, v: dict[str, Any]) -> None:
    label, content, pub = v["label"].encode(), h(v["content"]), h(v["pub"])
    check("sign_with_label public key", cs.signature_public_key(h(v["priv"])), pub)
    if not cs.verify_with_label(pub, label, content, h(v["signature"])):
        raise AssertionError("sign_with_label: vector signature does not verify")
    # ECDSA signatures are randomised, so a fresh signature can only be checked by verifying it.
    fresh = cs.sign_with_label(h(v["priv"]), label, content)
    if not cs.verify_with_label(pub, label, content, fresh):
        raise AssertionError("sign_with_label: fresh signature does not verify")
    if cs.verify_with_label(pub, label + b"x", content, fresh):
        raise AssertionError("sign_with_label: signature verifies under a different label")


def _encrypt_with_label(cs: CipherSuite, v: dict[str, Any]) -> None:
    label, context, pub = v["label"].encode(), h(v["context"]), h(v["pub"])
    priv = hpke_private_key(cs, v["priv"])
    check("encrypt_with_label public key", cs.kem.public_key(priv), pub)
    pt = cs.decrypt_with_label(priv, label, context, h(v["kem_output"]), h(v["ciphertext"]))
    check("decrypt_with_label", pt, h(v["plaintext"]))
    kem_output, ct = cs.encrypt_with_label(pub, label, context, h(v["plaintext"]))
    check("encrypt_with_label round trip", cs.decrypt_with_label(priv, label, context, kem_output, ct), pt)
