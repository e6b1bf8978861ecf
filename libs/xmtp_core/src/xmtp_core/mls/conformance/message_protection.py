"""Conformance handler for message-protection.json: unprotect the given PublicMessage/PrivateMessage of each
content type, then protect the content afresh and unprotect the result (RFC 9420 §6)."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls.cipher_suite import CipherSuite, get_cipher_suite
from xmtp_core.mls.conformance.util import check, h
from xmtp_core.mls.extensions import PROTOCOL_MLS10
from xmtp_core.mls.framing import (
    CONTENT_APPLICATION,
    CONTENT_COMMIT,
    CONTENT_PROPOSAL,
    WIRE_PRIVATE_MESSAGE,
    WIRE_PUBLIC_MESSAGE,
    AuthenticatedContent,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    Sender,
)
from xmtp_core.mls.group_context import GroupContext
from xmtp_core.mls.message_protection import (
    authenticate,
    decrypt_private,
    encrypt_private,
    from_public_message,
    to_public_message,
    verify_content,
)
from xmtp_core.mls.proposals import Commit, Proposal
from xmtp_core.mls.secret_tree import SecretTree

# The vectors' sender is leaf 1 of a two-leaf tree (mls-implementations test-vectors.md).
SENDER_LEAF = 1
N_LEAVES = 2


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``message-protection.json``; AssertionError names the first mismatch."""
    suite = get_cipher_suite(case["cipher_suite"])
    context = GroupContext(
        PROTOCOL_MLS10, suite.suite_id, h(case["group_id"]), case["epoch"], h(case["tree_hash"]),
        h(case["confirmed_transcript_hash"]),
    )  # fmt: skip
    for name, ctype in (
        ("proposal", CONTENT_PROPOSAL),
        ("commit", CONTENT_COMMIT),
        ("application", CONTENT_APPLICATION),
    ):
        _check_content(case, suite, context, name, ctype)


def _body(ctype: int, data: bytes) -> dict[str, Any]:
    if ctype == CONTENT_PROPOSAL:
        return {"proposal": Proposal.from_bytes(data)}
    if ctype == CONTENT_COMMIT:
        return {"commit": Commit.from_bytes(data)}
    return {"application_data": data}


def _check_content(case: dict[str, Any], suite: CipherSuite, context: GroupContext, name: str, ctype: int) -> None:
    body = _body(ctype, h(case[name]))
    sig_pub = h(case["signature_pub"])
    membership_key = h(case["membership_key"])
    if f"{name}_pub" in case:
        pub = _unprotect_public(suite, context, h(case[f"{name}_pub"]), membership_key, sig_pub)
        _check_body(f"{name}_pub", pub, ctype, body)
    priv = _unprotect_private(suite, context, case, h(case[f"{name}_priv"]))
    _check_body(f"{name}_priv", priv, ctype, body)
    # Protect afresh, then unprotect our own output.
    content = FramedContent(context.group_id, context.epoch, Sender.member(SENDER_LEAF), b"", ctype, **body)
    tag = suite.mac(b"\x00" * suite.hash_len, b"tag") if ctype == CONTENT_COMMIT else None
    sig_priv = h(case["signature_priv"])
    if ctype != CONTENT_APPLICATION:
        ac = authenticate(suite, sig_priv, WIRE_PUBLIC_MESSAGE, content, context, tag)
        data = MLSMessage.wrap(to_public_message(suite, ac, membership_key, context)).to_bytes()
        _check_body(f"{name} own public", _unprotect_public(suite, context, data, membership_key, sig_pub), ctype, body)
    ac = authenticate(suite, sig_priv, WIRE_PRIVATE_MESSAGE, content, context, tag)
    msg = encrypt_private(suite, ac, _secret_tree(suite, case), h(case["sender_data_secret"]), padding=7)
    again = _unprotect_private(suite, context, case, MLSMessage.wrap(msg).to_bytes())
    _check_body(f"{name} own private", again, ctype, body)


def _secret_tree(suite: CipherSuite, case: dict[str, Any]) -> SecretTree:
    return SecretTree(suite, h(case["encryption_secret"]), N_LEAVES)


def _unprotect_public(
    suite: CipherSuite, context: GroupContext, data: bytes, membership_key: bytes, sig_pub: bytes
) -> AuthenticatedContent:
    msg = MLSMessage.from_bytes(data).body
    assert isinstance(msg, PublicMessage)
    ac = from_public_message(suite, msg, membership_key, context)
    verify_content(suite, sig_pub, ac, context)
    return ac


def _unprotect_private(
    suite: CipherSuite, context: GroupContext, case: dict[str, Any], data: bytes
) -> AuthenticatedContent:
    msg = MLSMessage.from_bytes(data).body
    assert isinstance(msg, PrivateMessage)
    ac = decrypt_private(suite, msg, _secret_tree(suite, case), h(case["sender_data_secret"]))
    check("private sender", ac.content.sender, Sender.member(SENDER_LEAF))
    verify_content(suite, h(case["signature_pub"]), ac, context)
    return ac


def _check_body(what: str, ac: AuthenticatedContent, ctype: int, body: dict[str, Any]) -> None:
    check(f"{what} content_type", ac.content.content_type, ctype)
    for field, value in body.items():
        check(f"{what} {field}", getattr(ac.content, field), value)
