"""Message protection: wrong membership tag, bad signature, tampered ciphertext and replay (the vector cases run
in ``test_official_vectors.py``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.errors import CryptoError, GenerationError, SignatureError, ValidationError
from xmtp_core.mls.extensions import PROTOCOL_MLS10
from xmtp_core.mls.framing import (
    CONTENT_APPLICATION,
    CONTENT_PROPOSAL,
    WIRE_PRIVATE_MESSAGE,
    WIRE_PUBLIC_MESSAGE,
    FramedContent,
    MLSMessage,
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
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.secret_tree import SecretTree

from ._vectors import load

CASES = load("message-protection")


def _setup() -> tuple[dict[str, Any], Any, GroupContext]:
    case = CASES[0]
    suite = get_cipher_suite(case["cipher_suite"])
    ctx = GroupContext(
        PROTOCOL_MLS10, suite.suite_id, bytes.fromhex(case["group_id"]), case["epoch"],
        bytes.fromhex(case["tree_hash"]), bytes.fromhex(case["confirmed_transcript_hash"]),
    )  # fmt: skip
    return case, suite, ctx


def test_wrong_membership_tag_rejected() -> None:
    case, suite, ctx = _setup()
    msg = MLSMessage.from_bytes(bytes.fromhex(case["proposal_pub"])).body
    assert isinstance(msg, PublicMessage) and msg.membership_tag is not None
    bad = replace(msg, membership_tag=bytes(len(msg.membership_tag)))
    with pytest.raises(ValidationError, match="membership_tag"):
        from_public_message(suite, bad, bytes.fromhex(case["membership_key"]), ctx)


def test_tampered_signature_rejected() -> None:
    case, suite, ctx = _setup()
    content = FramedContent(
        ctx.group_id, ctx.epoch, Sender.member(1), b"", CONTENT_PROPOSAL, proposal=Proposal.remove(0)
    )
    ac = authenticate(suite, bytes.fromhex(case["signature_priv"]), WIRE_PUBLIC_MESSAGE, content, ctx)
    sig = ac.auth.signature
    bad = replace(ac, auth=replace(ac.auth, signature=bytes([sig[0] ^ 1]) + sig[1:]))
    with pytest.raises(SignatureError):
        verify_content(suite, bytes.fromhex(case["signature_pub"]), bad, ctx)
    msg = to_public_message(suite, ac, bytes.fromhex(case["membership_key"]), ctx)
    other_ctx = replace(ctx, epoch=ctx.epoch + 1)
    with pytest.raises(ValidationError):
        from_public_message(suite, msg, bytes.fromhex(case["membership_key"]), other_ctx)


def test_private_message_tamper_and_replay() -> None:
    case, suite, ctx = _setup()
    secret = bytes.fromhex(case["encryption_secret"])
    sd_secret = bytes.fromhex(case["sender_data_secret"])
    content = FramedContent(ctx.group_id, ctx.epoch, Sender.member(1), b"aad", CONTENT_APPLICATION, b"hello")
    ac = authenticate(suite, bytes.fromhex(case["signature_priv"]), WIRE_PRIVATE_MESSAGE, content, ctx)
    msg = encrypt_private(suite, ac, SecretTree(suite, secret, 2), sd_secret)
    receiver = SecretTree(suite, secret, 2)
    tampered = replace(msg, ciphertext=msg.ciphertext[:-1] + bytes([msg.ciphertext[-1] ^ 1]))
    with pytest.raises(CryptoError):
        decrypt_private(suite, tampered, SecretTree(suite, secret, 2), sd_secret)
    with pytest.raises(CryptoError):
        decrypt_private(suite, replace(msg, authenticated_data=b"other"), SecretTree(suite, secret, 2), sd_secret)
    # A forged ciphertext must not burn the key: the genuine message still decrypts on the same tree.
    with pytest.raises(CryptoError):
        decrypt_private(suite, tampered, receiver, sd_secret)
    got = decrypt_private(suite, msg, receiver, sd_secret)
    assert got.content.application_data == b"hello"
    assert got.content.authenticated_data == b"aad"
    with pytest.raises(GenerationError):
        decrypt_private(suite, msg, receiver, sd_secret)
