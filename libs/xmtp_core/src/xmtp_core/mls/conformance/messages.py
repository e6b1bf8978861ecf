"""Conformance handler for messages.json: decode and re-encode every RFC 9420 struct byte-exact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xmtp_core.mls.codec import Reader, Writer
from xmtp_core.mls.framing import (
    WIRE_GROUP_INFO,
    WIRE_KEY_PACKAGE,
    WIRE_PRIVATE_MESSAGE,
    WIRE_PUBLIC_MESSAGE,
    WIRE_WELCOME,
    MLSMessage,
)
from xmtp_core.mls.proposals import (
    ADD,
    EXTERNAL_INIT,
    GROUP_CONTEXT_EXTENSIONS,
    PSK,
    REINIT,
    REMOVE,
    UPDATE,
    Commit,
    Proposal,
)
from xmtp_core.mls.tree_nodes import decode_ratchet_tree, encode_ratchet_tree
from xmtp_core.mls.welcome import GroupSecrets


def _proposal_body(proposal_type: int) -> Callable[[bytes], bytes]:
    def roundtrip(data: bytes) -> bytes:
        r = Reader(data)
        proposal = Proposal.decode_body(proposal_type, r)
        r.finish()
        w = Writer()
        proposal.encode_body(w)
        return w.bytes()

    return roundtrip


def _mls_message(wire_format: int) -> Callable[[bytes], bytes]:
    def roundtrip(data: bytes) -> bytes:
        msg = MLSMessage.from_bytes(data)
        if msg.wire_format != wire_format:
            raise AssertionError(f"wire format {msg.wire_format}, expected {wire_format}")
        return msg.to_bytes()

    return roundtrip


ROUNDTRIPS: dict[str, Callable[[bytes], bytes]] = {
    "mls_welcome": _mls_message(WIRE_WELCOME),
    "mls_group_info": _mls_message(WIRE_GROUP_INFO),
    "mls_key_package": _mls_message(WIRE_KEY_PACKAGE),
    "ratchet_tree": lambda d: encode_ratchet_tree(decode_ratchet_tree(d)),
    "group_secrets": lambda d: GroupSecrets.from_bytes(d).to_bytes(),
    "add_proposal": _proposal_body(ADD),
    "update_proposal": _proposal_body(UPDATE),
    "remove_proposal": _proposal_body(REMOVE),
    "pre_shared_key_proposal": _proposal_body(PSK),
    "re_init_proposal": _proposal_body(REINIT),
    "external_init_proposal": _proposal_body(EXTERNAL_INIT),
    "group_context_extensions_proposal": _proposal_body(GROUP_CONTEXT_EXTENSIONS),
    "commit": lambda d: Commit.from_bytes(d).to_bytes(),
    "public_message_application": _mls_message(WIRE_PUBLIC_MESSAGE),
    "public_message_proposal": _mls_message(WIRE_PUBLIC_MESSAGE),
    "public_message_commit": _mls_message(WIRE_PUBLIC_MESSAGE),
    "private_message": _mls_message(WIRE_PRIVATE_MESSAGE),
}


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``messages.json``; AssertionError names the first mismatch."""
    for field, roundtrip in ROUNDTRIPS.items():
        data = bytes.fromhex(case[field])
        again = roundtrip(data)
        if again != data:
            raise AssertionError(f"{field}: re-encoding differs from the vector")
