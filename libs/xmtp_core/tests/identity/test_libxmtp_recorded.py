"""Replays a real libxmtp identity log offline.

`libxmtp_identity_log.json` was recorded by `test_libxmtp_interop.py` (XMTP_RECORD_IDENTITY_FIXTURE=1): five
updates built and signed by @xmtp/node-sdk 5.5.0 (libxmtp node-bindings 1.9.1): register, a second
installation of the same wallet, link a second wallet, revoke the second installation, change recovery.
`libxmtp_reported_state` is what libxmtp itself reported for the inbox afterwards; `states_after_each_update`
are our own replays at record time (a regression baseline, not libxmtp output).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from xmtp_core.identity import AssociationError, AssociationState, Rule, apply_update_sync, verify_log_sync
from xmtp_core.identity.codec import decode_update
from xmtp_core.identity.signatures import SECP256K1_N
from xmtp_core.protos.identity.associations import association_pb2 as pb

RECORD = json.loads(Path(__file__).with_name("libxmtp_identity_log.json").read_text())
UPDATES = [pb.IdentityUpdate.FromString(bytes.fromhex(entry["update"])) for entry in RECORD["updates"]]


def summary(state: AssociationState) -> dict[str, Any]:
    return {
        "inboxId": state.inbox_id,
        "recoveryIdentifier": state.recovery_identifier.text(),
        "identifiers": sorted(i.text() for i in state.identifiers()),
        "installationIds": sorted(k.hex() for k in state.installation_keys()),
    }


def test_replay_reaches_the_state_libxmtp_reported() -> None:
    assert summary(verify_log_sync(UPDATES)) == RECORD["libxmtp_reported_state"]


def test_every_prefix_replays_like_at_record_time() -> None:
    for n, expected in enumerate(RECORD["states_after_each_update"], start=1):
        assert summary(verify_log_sync(UPDATES[:n])) == expected


def test_recorded_actions_are_the_expected_kinds() -> None:
    kinds = [[action.WhichOneof("kind") for action in update.actions] for update in UPDATES]
    assert kinds == [["create_inbox", "add"], ["add"], ["add"], ["revoke"], ["change_recovery_address"]]
    texts = [decode_update(update).text() for update in UPDATES]
    assert "- Create inbox\n  (Owner: " in texts[0]
    assert "- Link address to inbox\n  (Address: 0x" in texts[2]
    assert "- Revoke messaging access from app\n  (ID: " in texts[3]
    assert "- Change inbox recovery address\n  (Address: 0x" in texts[4]


def _erc191_signatures() -> list[bytes]:
    found = []
    for update in UPDATES:
        for action in update.actions:
            kind = action.WhichOneof("kind")
            message = getattr(action, kind)
            for field in message.DESCRIPTOR.fields:
                if field.message_type is not None and field.message_type.name == "Signature":
                    signature = getattr(message, field.name)
                    if signature.WhichOneof("signature") == "erc_191":
                        found.append(signature.erc_191.bytes)
    return found


def test_libxmtp_sends_low_s_and_v_27_28() -> None:
    signatures = _erc191_signatures()
    assert len(signatures) >= 5
    for signature in signatures:
        assert len(signature) == 65
        assert signature[64] in (27, 28)
        assert int.from_bytes(signature[32:64], "big") <= SECP256K1_N // 2


@pytest.mark.parametrize("index", range(len(UPDATES)))
def test_tampering_with_any_recorded_update_is_refused(index: int) -> None:
    state = verify_log_sync(UPDATES[:index]) if index else None
    forged = pb.IdentityUpdate()
    forged.CopyFrom(UPDATES[index])
    forged.client_timestamp_ns += 1_000_000_000
    with pytest.raises(AssociationError):
        apply_update_sync(state, forged)


@pytest.mark.parametrize("index", range(1, len(UPDATES)))
def test_replaying_a_recorded_update_is_refused(index: int) -> None:
    state = verify_log_sync(UPDATES)
    with pytest.raises(AssociationError) as caught:
        apply_update_sync(state, UPDATES[index])
    assert caught.value.rule == Rule.REPLAY
