"""Property tests: whatever bytes arrive, devnode's MLS checks either succeed or raise `InvalidInput` (never crash)."""

from __future__ import annotations

from devnode.errors import InvalidInput
from devnode.mls_checks import group_message_header, verify_key_package
from devnode_testkit import key_package, private_message, public_message
from hypothesis import given, settings
from hypothesis import strategies as st

VALID_KP, _ = key_package()
VALID_MESSAGES = [private_message(b"group", content_type=3), public_message(b"group", content_type=1)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_crash_framing(data: bytes) -> None:
    try:
        info = group_message_header(data)
    except InvalidInput:
        return
    assert info.group_id and info.content_type in (1, 2, 3)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID_MESSAGES), st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_mutated_messages_never_crash_framing(data: bytes, position: int, value: int) -> None:
    mutated = bytearray(data)
    mutated[position % len(mutated)] = value
    try:
        info = group_message_header(bytes(mutated))
    except InvalidInput:
        return
    # Mutations inside opaque fields still parse; the framing must then still be self-consistent.
    assert info.group_id and info.content_type in (1, 2, 3)
    assert info.group_id in bytes(mutated)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255), st.integers(min_value=0, max_value=40))
def test_mutated_or_truncated_key_packages_are_rejected_cleanly(position: int, value: int, cut: int) -> None:
    mutated = bytearray(VALID_KP[: len(VALID_KP) - cut])
    index = position % len(mutated)
    changed = mutated[index] != value or cut > 0
    mutated[index] = value
    try:
        verify_key_package(bytes(mutated))
    except InvalidInput:
        return
    assert not changed, "a changed key package must not verify"
