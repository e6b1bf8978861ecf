"""Column cipher without a database: format, AAD binding, tampering, unknown keys."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xmtp_core.store import DecryptionError, EncryptionKey, FieldCipher, FieldRef, KeyRing
from xmtp_core.store.cipher import FORMAT_VERSION, HEADER_LEN, TAG_LEN

HERE = FieldRef("messages", "content", (b"\x01\x02",))


def test_round_trip_and_format() -> None:
    key = EncryptionKey.generate()
    cipher = FieldCipher(KeyRing(key))
    plaintext = os.urandom(40)
    blob = cipher.encrypt(HERE, plaintext)
    assert blob[0] == FORMAT_VERSION
    assert blob[1:9] == key.key_id
    assert len(blob) == HEADER_LEN + len(plaintext) + TAG_LEN
    assert plaintext not in blob
    assert cipher.decrypt(HERE, blob) == plaintext
    # Fresh nonce each time.
    assert cipher.encrypt(HERE, plaintext) != blob


@pytest.mark.parametrize(
    "elsewhere",
    [
        FieldRef("messages", "content", (b"\x01\x03",)),
        FieldRef("messages", "other", (b"\x01\x02",)),
        FieldRef("intents", "content", (b"\x01\x02",)),
        FieldRef("messages", "content", ("\x01\x02",)),
        FieldRef("messages", "content", (b"\x01", b"\x02")),
    ],
)
def test_ciphertext_bound_to_location(elsewhere: FieldRef) -> None:
    cipher = FieldCipher(KeyRing(EncryptionKey.generate()))
    blob = cipher.encrypt(HERE, b"secret")
    with pytest.raises(DecryptionError, match="authentication failed"):
        cipher.decrypt(elsewhere, blob)


def test_int_and_string_pk_parts_differ() -> None:
    cipher = FieldCipher(KeyRing(EncryptionKey.generate()))
    blob = cipher.encrypt(FieldRef("intents", "payload", (1,)), b"x")
    with pytest.raises(DecryptionError):
        cipher.decrypt(FieldRef("intents", "payload", ("1",)), blob)
    assert cipher.decrypt(FieldRef("intents", "payload", (1,)), blob) == b"x"


def test_tampering_and_bad_headers() -> None:
    key = EncryptionKey.generate()
    cipher = FieldCipher(KeyRing(key))
    blob = bytearray(cipher.encrypt(HERE, b"secret value"))
    flipped = bytes(blob[:-1]) + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError, match="authentication failed"):
        cipher.decrypt(HERE, flipped)
    with pytest.raises(DecryptionError, match="format version"):
        cipher.decrypt(HERE, b"\x02" + bytes(blob[1:]))
    with pytest.raises(DecryptionError, match="too short"):
        cipher.decrypt(HERE, bytes(blob[:20]))


def test_wrong_key_is_reported_as_unknown_key_id() -> None:
    blob = FieldCipher(KeyRing(EncryptionKey.generate())).encrypt(HERE, b"secret")
    other = FieldCipher(KeyRing(EncryptionKey.generate()))
    with pytest.raises(DecryptionError, match="unknown key id"):
        other.decrypt(HERE, blob)


def test_relabelled_key_id_fails_authentication() -> None:
    a, b = EncryptionKey.generate(), EncryptionKey.generate()
    blob = FieldCipher(KeyRing(a)).encrypt(HERE, b"secret")
    forged = blob[:1] + b.key_id + blob[9:]
    with pytest.raises(DecryptionError, match="authentication failed"):
        FieldCipher(KeyRing(b, [a])).decrypt(HERE, forged)


def test_previous_keys_still_decrypt() -> None:
    old, new = EncryptionKey.generate(), EncryptionKey.generate()
    blob = FieldCipher(KeyRing(old)).encrypt(HERE, b"secret")
    ring = FieldCipher(KeyRing(new, [old]))
    assert ring.decrypt(HERE, blob) == b"secret"
    assert ring.needs_rotation(HERE, blob)
    assert not ring.needs_rotation(HERE, ring.encrypt(HERE, b"secret"))


_pk_parts = st.one_of(st.binary(max_size=40), st.text(max_size=20), st.integers(-(2**63), 2**63 - 1))
_refs = st.builds(
    FieldRef,
    st.sampled_from(["messages", "intents", "group_states"]),
    st.sampled_from(["content", "payload", "state"]),
    st.tuples(_pk_parts) | st.tuples(_pk_parts, _pk_parts),
)
_CIPHER = FieldCipher(KeyRing(EncryptionKey.generate()))


@given(where=_refs, other=_refs, plaintext=st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_round_trip_only_at_the_same_location(where: FieldRef, other: FieldRef, plaintext: bytes) -> None:
    blob = _CIPHER.encrypt(where, plaintext)
    assert _CIPHER.decrypt(where, blob) == plaintext
    if other.associated_data() != where.associated_data() or other.purpose != where.purpose:
        with pytest.raises(DecryptionError):
            _CIPHER.decrypt(other, blob)


@given(a=_refs, b=_refs)
@settings(max_examples=300, deadline=None)
def test_associated_data_is_injective(a: FieldRef, b: FieldRef) -> None:
    if (a.table, a.column, a.pk) != (b.table, b.column, b.pk):
        assert a.associated_data() != b.associated_data()
