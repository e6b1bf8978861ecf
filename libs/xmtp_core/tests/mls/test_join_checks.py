"""Joining from a Welcome: the confirmation tag is compared in constant time, and a wrong tag is refused."""

from __future__ import annotations

import hmac
from dataclasses import replace

import pytest
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import ValidationError
from xmtp_core.mls.framing import MLSMessage
from xmtp_core.mls.group import Group
from xmtp_core.mls.own_key_package import OwnKeyPackage, create_key_package
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.welcome_crypto import WelcomeRecipient, encrypt_welcome

SUITE = 3


def _bundle(name: bytes) -> OwnKeyPackage:
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    return create_key_package(SUITE, sk, Credential.basic(name))


def _welcome(tamper_tag: bool) -> tuple[MLSMessage, OwnKeyPackage, bytes]:
    """A Welcome from a real commit, re-encrypted after optionally flipping the GroupInfo's confirmation tag."""
    suite = get_cipher_suite(SUITE)
    sk, _ = suite.generate_signature_key_pair()
    creator = Group.create(SUITE, sk, Credential.basic(b"creator"))
    joiner = _bundle(b"joiner")
    staged = creator.commit([Proposal.add(joiner.key_package)])
    assert staged.group_info is not None
    info = staged.group_info
    if tamper_tag:
        tag = bytes([info.confirmation_tag[0] ^ 1]) + info.confirmation_tag[1:]
        info = replace(info, confirmation_tag=tag).signed(suite, sk)
    joiner_secret = staged.new_epoch.secrets.joiner_secret
    welcome = encrypt_welcome(suite, info, joiner_secret, [WelcomeRecipient(joiner.key_package)])
    return MLSMessage.wrap(welcome), joiner, staged.new_epoch.confirmation_tag


def test_join_compares_the_confirmation_tag_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    welcome, joiner, tag = _welcome(tamper_tag=False)
    seen: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return original(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    Group.join(welcome, joiner)
    assert (tag, tag) in seen


def test_join_refuses_a_wrong_confirmation_tag() -> None:
    welcome, joiner, _ = _welcome(tamper_tag=True)
    with pytest.raises(ValidationError, match="confirmation_tag"):
        Group.join(welcome, joiner)
