"""No private key, secret or plaintext shows in the repr of an MLS object (issue 8): a ``%r`` log line, a test
failure or a crash report must not leak them."""

from __future__ import annotations

import os

from xmtp_core.mls import key_schedule as ks
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.framing import CONTENT_APPLICATION, FramedContent, Sender
from xmtp_core.mls.group import ApplicationMessage, Group
from xmtp_core.mls.own_key_package import OwnKeyPackage, create_key_package
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.secret_tree import RatchetType, SecretTree
from xmtp_core.mls.treekem import PathKeys
from xmtp_core.mls.welcome import GroupSecrets
from xmtp_core.mls.welcome_crypto import WelcomeRecipient

SUITE = 3


def _bundle(suite_id: int = SUITE) -> OwnKeyPackage:
    sk, _ = get_cipher_suite(suite_id).generate_signature_key_pair()
    return create_key_package(suite_id, sk, Credential.basic(b"member"))


def _assert_hidden(obj: object, secrets: list[bytes]) -> None:
    text = repr(obj)
    for secret in secrets:
        assert secret, "an empty secret proves nothing"
        assert secret.hex() not in text, (type(obj).__name__, secret.hex())
        assert repr(secret)[2:-1] not in text, (type(obj).__name__, secret)
        assert secret.hex()[:16] not in text


def _epoch_secrets(s: ks.EpochSecrets) -> list[bytes]:
    return [getattr(s, name) for name in s.__dataclass_fields__]


def test_key_package_bundles_hide_private_keys() -> None:
    for suite_id in (1, SUITE, 7):
        bundle = _bundle(suite_id)
        _assert_hidden(bundle, [bundle.init_priv, bundle.encryption_priv, bundle.signature_priv])


def test_group_and_staged_commit_hide_secrets() -> None:
    sk, _ = get_cipher_suite(SUITE).generate_signature_key_pair()
    group = Group.create(SUITE, sk, Credential.basic(b"creator"))
    group.external_psks[b"psk-id"] = os.urandom(32)
    joiner = _bundle()
    staged = group.commit([Proposal.add(joiner.key_package)], force_path=True)
    group.propose_update()
    secrets = [
        group.signature_priv,
        *group.external_psks.values(),
        *group.pending_update_keys.values(),
        *group.epoch_state.path_keys.keys.values(),
        *_epoch_secrets(group.epoch_state.secrets),
    ]
    _assert_hidden(group, secrets)
    staged_secrets = [*_epoch_secrets(staged.new_epoch.secrets), *staged.new_epoch.path_keys.keys.values()]
    _assert_hidden(staged, staged_secrets)
    _assert_hidden(staged.new_epoch, staged_secrets)
    group.merge_staged_commit(staged)
    assert group.past_epochs
    past = group.past_epochs[0]
    _assert_hidden(past, [past.sender_data_secret, past.resumption_psk])
    _assert_hidden(group.epoch_state.secrets, _epoch_secrets(group.epoch_state.secrets))


def test_path_keys_and_secret_state_hide_secrets() -> None:
    keys = PathKeys(0, {0: os.urandom(32), 2: os.urandom(32)})
    _assert_hidden(keys, list(keys.keys.values()))
    tree = SecretTree(get_cipher_suite(SUITE), os.urandom(32), 2)
    tree.key_for(1, RatchetType.APPLICATION, 3)
    state = tree.to_state()
    hidden = [secret for _, secret in state.node_secrets]
    for _, _, ratchet in state.ratchets:
        hidden.append(ratchet.secret)
        hidden.extend(k.key for k in ratchet.stored_keys)
        hidden.extend(k.nonce for k in ratchet.stored_keys)
    assert hidden
    _assert_hidden(state, hidden)


def test_welcome_secrets_and_plaintext_are_hidden() -> None:
    joiner, path = os.urandom(32), os.urandom(32)
    _assert_hidden(GroupSecrets(joiner, path), [joiner, path])
    _assert_hidden(WelcomeRecipient(_bundle().key_package, path), [path])
    plaintext = b"a private message to the group"
    _assert_hidden(ApplicationMessage(0, 1, plaintext, b""), [plaintext])
    content = FramedContent(b"group", 1, Sender.member(0), b"", CONTENT_APPLICATION, plaintext)
    _assert_hidden(content, [plaintext])
