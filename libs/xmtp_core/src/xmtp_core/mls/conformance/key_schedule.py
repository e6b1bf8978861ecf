"""Conformance handler for ``key-schedule.json``: epoch secrets over consecutive epochs (RFC 9420 §8)."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls.cipher_suite import CipherSuite, get_cipher_suite
from xmtp_core.mls.codec import Writer
from xmtp_core.mls.conformance.util import check, h

_SECRET_FIELDS = (
    "joiner_secret",
    "welcome_secret",
    "sender_data_secret",
    "encryption_secret",
    "exporter_secret",
    "external_secret",
    "membership_key",
    "resumption_psk",
    "epoch_authenticator",
    "init_secret",
)


def _group_context(cs: CipherSuite, group_id: bytes, epoch: int, v: dict[str, Any]) -> bytes:
    w = Writer().u16(1).u16(cs.suite_id).vec(group_id).u64(epoch)
    return w.vec(h(v["tree_hash"])).vec(h(v["confirmed_transcript_hash"])).vec(b"").bytes()


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``key-schedule.json``; AssertionError names the first mismatch."""
    cs = get_cipher_suite(case["cipher_suite"])
    group_id = h(case["group_id"])
    init_secret = h(case["initial_init_secret"])
    for epoch, v in enumerate(case["epochs"]):
        context = _group_context(cs, group_id, epoch, v)
        check(f"epoch {epoch} group_context", context, h(v["group_context"]))
        secrets = ks.epoch_secrets(cs, init_secret, h(v["commit_secret"]), h(v["psk_secret"]), context)
        for name in _SECRET_FIELDS:
            check(f"epoch {epoch} {name}", getattr(secrets, name), h(v[name]))
        check(f"epoch {epoch} confirmation_key", secrets.confirmation_key, h(v["confirmation_key"]))
        check(f"epoch {epoch} external_pub", ks.external_key_pair(cs, secrets.external_secret)[1], h(v["external_pub"]))
        exp = v["exporter"]
        # These vectors use the label hex string itself (its ASCII bytes) as the exporter label.
        exported = ks.mls_exporter(cs, secrets.exporter_secret, exp["label"].encode(), h(exp["context"]), exp["length"])
        check(f"epoch {epoch} exporter", exported, h(exp["secret"]))
        init_secret = secrets.init_secret
