"""RFC 9420 struct codec: truncation and trailing bytes fail (every messages.json case round-trips in
``test_official_vectors.py``)."""

from __future__ import annotations

import pytest
from xmtp_core.mls.conformance.messages import ROUNDTRIPS
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import DecodeError
from xmtp_core.mls.framing import MLSMessage
from xmtp_core.mls.proposals import (
    APP_DATA_OP_REMOVE,
    APP_DATA_OP_UPDATE,
    APP_DATA_UPDATE,
    Commit,
    Proposal,
    ProposalOrRef,
)

from ._vectors import load

CASES = load("messages")


@pytest.mark.parametrize("field", sorted(ROUNDTRIPS))
def test_truncated_input_raises_decode_error(field: str) -> None:
    data = bytes.fromhex(CASES[0][field])
    with pytest.raises(DecodeError):
        ROUNDTRIPS[field](data[:-1])


@pytest.mark.parametrize("field", ["mls_welcome", "commit", "group_secrets", "private_message"])
def test_trailing_bytes_raise_decode_error(field: str) -> None:
    data = bytes.fromhex(CASES[0][field])
    with pytest.raises(DecodeError):
        ROUNDTRIPS[field](data + b"\x00")


def test_unknown_proposal_and_credential_types_are_carried() -> None:
    commit = Commit(proposals=(ProposalOrRef(proposal=Proposal(0xF00D, body=b"custom")),))
    assert Commit.from_bytes(commit.to_bytes()) == commit
    cred = Credential(0xABCD, body=b"opaque")
    assert Credential.from_bytes(cred.to_bytes()) == cred


def test_bad_wire_format_rejected() -> None:
    data = bytearray(bytes.fromhex(CASES[0]["mls_welcome"]))
    data[3] = 9
    with pytest.raises(DecodeError):
        MLSMessage.from_bytes(bytes(data))


@pytest.mark.parametrize(
    "proposal",
    [
        Proposal(APP_DATA_UPDATE, component_id=0x8001, app_data_op=APP_DATA_OP_UPDATE, app_data=b"\x01\x02"),
        Proposal(APP_DATA_UPDATE, component_id=7, app_data_op=APP_DATA_OP_REMOVE),
    ],
)
def test_app_data_update_roundtrip(proposal: Proposal) -> None:
    data = proposal.to_bytes()
    assert data[:2] == b"\x00\x08"
    assert Proposal.from_bytes(data) == proposal


def test_app_data_update_bad_operation() -> None:
    with pytest.raises(DecodeError):
        Proposal.from_bytes(b"\x00\x08\x00\x01\x03")
