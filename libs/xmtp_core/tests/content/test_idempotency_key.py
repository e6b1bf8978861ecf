"""Our idempotency keys are random, so `message_id` reveals nothing about the content to a database reader."""

from __future__ import annotations

import string
import time

from xmtp_core.content import decode_plaintext_envelope, encode_plaintext_envelope, message_id, new_idempotency_key


def test_keys_are_128_random_bits_in_hex() -> None:
    keys = {new_idempotency_key() for _ in range(1000)}
    assert len(keys) == 1000
    assert all(len(k) == 32 and set(k) <= set(string.hexdigits.lower()) for k in keys)


def test_key_is_not_the_clock() -> None:
    # With a time_ns() key, the id of a guessed message is found by trying the nanoseconds around the send.
    before = time.time_ns()
    key = new_idempotency_key()
    after = time.time_ns()
    assert not (key.isdigit() and before <= int(key) <= after)
    group, content = b"group", b"\x0a\x04text"
    guesses = {message_id(group, str(ns), content) for ns in range(before, min(after + 1, before + 10_000))}
    assert message_id(group, key, content) not in guesses


def test_key_round_trips_through_the_envelope() -> None:
    key = new_idempotency_key()
    envelope = decode_plaintext_envelope(encode_plaintext_envelope(b"content", key))
    assert envelope.idempotency_key == key
