"""Secret tree (RFC 9420 §9): sender/receiver agreement, out-of-order window, replay and distance limits,
state export and restore."""

from __future__ import annotations

from dataclasses import replace

import pytest
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.errors import GenerationError, ValidationError
from xmtp_core.mls.secret_tree import RatchetState, RatchetType, SecretTree

CS = get_cipher_suite(3)
SECRET = bytes(range(32))
APP = RatchetType.APPLICATION
HS = RatchetType.HANDSHAKE


def tree(**kwargs: int) -> SecretTree:
    return SecretTree(CS, SECRET, 4, **kwargs)


def test_sender_and_receiver_agree() -> None:
    sender, receiver = tree(), tree()
    for _ in range(5):
        sent = sender.next_key(2, APP)
        got = receiver.key_for(2, APP, sent.generation)
        assert (got.key, got.nonce) == (sent.key, sent.nonce)
    assert sent.generation == 4


def test_ratchets_and_leaves_are_independent() -> None:
    t = tree()
    keys = {t.next_key(leaf, rt).key for leaf in range(4) for rt in (APP, HS)}
    assert len(keys) == 8
    assert all(len(k) == CS.aead_key_len for k in keys)


def test_out_of_order_within_tolerance() -> None:
    sender, receiver = tree(), tree(out_of_order_tolerance=3)
    sent = [sender.next_key(0, APP) for _ in range(5)]
    assert receiver.key_for(0, APP, 4).key == sent[4].key
    assert receiver.key_for(0, APP, 2).key == sent[2].key
    assert receiver.key_for(0, APP, 3).key == sent[3].key


def test_replayed_generation_raises() -> None:
    receiver = tree()
    receiver.key_for(1, APP, 0)
    with pytest.raises(GenerationError, match="already used"):
        receiver.key_for(1, APP, 0)
    receiver.key_for(1, APP, 3)
    receiver.key_for(1, APP, 2)
    with pytest.raises(GenerationError, match="already used"):
        receiver.key_for(1, APP, 2)


def test_generation_older_than_window_raises() -> None:
    receiver = tree(out_of_order_tolerance=2)
    receiver.key_for(0, APP, 10)
    receiver.key_for(0, APP, 8)  # inside the window
    with pytest.raises(GenerationError, match="too old"):
        receiver.key_for(0, APP, 5)


def test_zero_tolerance_keeps_no_skipped_keys() -> None:
    receiver = tree(out_of_order_tolerance=0)
    receiver.key_for(0, HS, 3)
    with pytest.raises(GenerationError):
        receiver.key_for(0, HS, 2)


def test_generation_too_far_ahead_raises() -> None:
    receiver = tree(maximum_forward_distance=10)
    receiver.key_for(3, APP, 10)
    with pytest.raises(GenerationError, match="ahead"):
        receiver.key_for(3, APP, 22)
    assert receiver.key_for(3, APP, 21).generation == 21


def test_leaf_outside_tree_rejected() -> None:
    with pytest.raises(ValidationError):
        tree().next_key(4, APP)
    with pytest.raises(ValidationError):
        SecretTree(CS, SECRET, 0)


def test_peek_then_consume() -> None:
    sender, receiver = tree(), tree()
    sent = [sender.next_key(1, HS) for _ in range(3)]
    # A failed decryption must not burn the key: peek twice, then consume once.
    assert receiver.key_for(1, HS, 2, consume=False).key == sent[2].key
    assert receiver.key_for(1, HS, 2, consume=False).key == sent[2].key
    receiver.consume(1, HS, 2)
    with pytest.raises(GenerationError):
        receiver.key_for(1, HS, 2)
    with pytest.raises(GenerationError):
        receiver.consume(1, HS, 2)
    assert receiver.key_for(1, HS, 0).key == sent[0].key


def test_state_round_trip_keeps_window_replay_and_pending_keys() -> None:
    sender, receiver = tree(), tree()
    sent = [sender.next_key(1, APP) for _ in range(6)]
    receiver.key_for(1, APP, 5)  # generations 0-4 are now stored as skipped keys
    receiver.key_for(1, APP, 2)
    receiver.key_for(1, APP, 3, consume=False)
    restored = SecretTree.from_state(CS, receiver.to_state())
    assert restored.to_state() == receiver.to_state()
    with pytest.raises(GenerationError, match="already used"):
        restored.key_for(1, APP, 2)
    with pytest.raises(GenerationError, match="already used"):
        restored.key_for(1, APP, 5)
    restored.consume(1, APP, 3)
    assert restored.key_for(1, APP, 4).key == sent[4].key
    # Leaves never asked for are still derivable from the stored node secrets.
    assert restored.key_for(3, HS, 0).key == sender.key_for(3, HS, 0).key


def test_restored_tree_is_independent_of_the_original() -> None:
    original = tree()
    original.key_for(0, APP, 3)
    restored = SecretTree.from_state(CS, original.to_state())
    restored.key_for(0, APP, 1)
    assert original.key_for(0, APP, 1).generation == 1


def test_state_uses_restore_policy_not_saved_one() -> None:
    saved = tree(maximum_forward_distance=1000)
    saved.key_for(0, APP, 0)
    restored = SecretTree.from_state(CS, saved.to_state(), maximum_forward_distance=2)
    with pytest.raises(GenerationError, match="ahead"):
        restored.key_for(0, APP, 10)


def test_state_with_out_of_range_indices_rejected() -> None:
    state = tree().to_state()
    with pytest.raises(ValidationError):
        SecretTree.from_state(CS, replace(state, node_secrets=((7, SECRET),)))
    ratchet = RatchetState(0, SECRET, ())
    with pytest.raises(ValidationError):
        SecretTree.from_state(CS, replace(state, ratchets=((4, APP, ratchet),)))
    with pytest.raises(ValidationError):
        SecretTree.from_state(CS, replace(state, ratchets=((0, APP, replace(ratchet, generation=-1)),)))
