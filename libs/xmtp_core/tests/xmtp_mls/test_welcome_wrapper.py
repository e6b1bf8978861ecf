"""Welcome wrapper (reference §4): exact info bytes, X25519 and X-Wing round trips, the 0x647A fallback,
two seals on one context, welcome pointers, and clear errors for the wrong key."""

from __future__ import annotations

import os

import pytest
from xmtp_core.mls.hpke import CHACHA20POLY1305, HpkeSuite
from xmtp_core.mls.kdf import SHA256
from xmtp_core.mls.kem import get_kem
from xmtp_core.mls.update_path import HPKECiphertext
from xmtp_core.mls.xwing import XWingKem, xwing_hpke_suite
from xmtp_core.xmtp_mls.errors import WelcomeWrapperError
from xmtp_core.xmtp_mls.key_package import build_key_package, parse_key_package
from xmtp_core.xmtp_mls.welcome_wrapper import (
    WELCOME_HPKE_INFO,
    WelcomePointer,
    WrapperAlgorithm,
    decrypt_pointee,
    encrypt_pointee,
    unwrap_welcome,
    unwrap_welcome_pointer,
    wrap_welcome,
    wrap_welcome_pointer,
    wrapper_algorithm_from_wire,
)

X25519 = HpkeSuite(get_kem(0x0020), SHA256, CHACHA20POLY1305)
XWING = WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6
WELCOME = b"\x00\x01\x00\x03" + os.urandom(500)  # stands in for an MlsMessage(Welcome)
METADATA = b"\x08\x96\x01"  # WelcomeMetadata{message_cursor: 150}


def test_info_is_the_tls_encrypt_context() -> None:
    assert bytes.fromhex("13" + b"MLS 1.0 MLS_WELCOME".hex() + "00") == WELCOME_HPKE_INFO


def test_unspecified_algorithm_means_curve25519() -> None:
    assert wrapper_algorithm_from_wire(0) == WrapperAlgorithm.CURVE25519
    assert wrapper_algorithm_from_wire(2) == XWING
    with pytest.raises(WelcomeWrapperError):
        wrapper_algorithm_from_wire(9)


def test_curve25519_round_trip_with_the_key_package_init_key() -> None:
    bundle = build_key_package("ab" * 32, os.urandom(32), post_quantum=False)
    peer = parse_key_package(bundle.tls_bytes)
    wrapped = wrap_welcome(WELCOME, METADATA, peer.wrapper.public_key, peer.wrapper.algorithm)
    assert wrapped.data[0] == 0x20  # kem_output<V> = 32-byte X25519 enc
    got = unwrap_welcome(wrapped.data, wrapped.welcome_metadata, bundle.init_private_key, WrapperAlgorithm.CURVE25519)
    assert (got.welcome, got.welcome_metadata) == (WELCOME, METADATA)


def test_xwing_round_trip_with_the_0xff03_key() -> None:
    bundle = build_key_package("ab" * 32, os.urandom(32))
    peer = parse_key_package(bundle.tls_bytes)
    wrapped = wrap_welcome(WELCOME, METADATA, peer.wrapper.public_key, peer.wrapper.algorithm)
    assert wrapped.data[:2] == b"\x44\x60"  # varint 1120: the X-Wing ciphertext is the HPKE enc
    assert len(wrapped.welcome_metadata) == len(METADATA) + 16  # raw AEAD output, no prefix
    got = unwrap_welcome(wrapped.data, wrapped.welcome_metadata, bundle.xwing_seed or b"", XWING)
    assert (got.welcome, got.welcome_metadata) == (WELCOME, METADATA)


def test_xwing_uses_kem_id_0x004d_and_the_shared_secret_directly() -> None:
    seed = os.urandom(32)
    wrapped = wrap_welcome(WELCOME, METADATA, XWingKem().public_key(seed), XWING)
    ct = HPKECiphertext.from_bytes(wrapped.data)
    # An independent receiver context under suite_id "HPKE" 004D 0001 0003 opens it: seq 0 then seq 1.
    ctx = xwing_hpke_suite(0x004D).setup_base_r(ct.kem_output, seed, WELCOME_HPKE_INFO)
    assert ctx.open(b"", ct.ciphertext) == WELCOME
    assert ctx.open(b"", wrapped.welcome_metadata) == METADATA
    # The metadata is the *second* seal: a fresh context (sequence 0) cannot open it.
    fresh = xwing_hpke_suite(0x004D).setup_base_r(ct.kem_output, seed, WELCOME_HPKE_INFO)
    with pytest.raises(Exception, match="AEAD"):
        fresh.open(b"", wrapped.welcome_metadata)
    # And the IANA code point is a different key schedule.
    iana = xwing_hpke_suite(0x647A).setup_base_r(ct.kem_output, seed, WELCOME_HPKE_INFO)
    with pytest.raises(Exception, match="AEAD"):
        iana.open(b"", ct.ciphertext)


def test_unwrap_falls_back_to_the_iana_xwing_code_point() -> None:
    seed = os.urandom(32)
    wrapped = wrap_welcome(WELCOME, METADATA, XWingKem().public_key(seed), XWING, xwing_kem_id=0x647A)
    got = unwrap_welcome(wrapped.data, wrapped.welcome_metadata, seed, XWING)
    assert got.welcome == WELCOME and got.welcome_metadata == METADATA


def test_empty_metadata_field_is_skipped_on_unwrap() -> None:
    sk, pk = X25519.kem.generate_key_pair()
    wrapped = wrap_welcome(WELCOME, METADATA, pk, WrapperAlgorithm.CURVE25519)
    got = unwrap_welcome(wrapped.data, b"", sk, WrapperAlgorithm.CURVE25519)
    assert (got.welcome, got.welcome_metadata) == (WELCOME, b"")


def test_wrong_xwing_key_fails_clearly() -> None:
    wrapped = wrap_welcome(WELCOME, METADATA, XWingKem().public_key(os.urandom(32)), XWING)
    with pytest.raises(WelcomeWrapperError, match="does not decrypt with this installation's XWING"):
        unwrap_welcome(wrapped.data, wrapped.welcome_metadata, os.urandom(32), XWING)


def test_wrong_x25519_key_fails_clearly() -> None:
    _, pk = X25519.kem.generate_key_pair()
    other_sk, _ = X25519.kem.generate_key_pair()
    wrapped = wrap_welcome(WELCOME, METADATA, pk, WrapperAlgorithm.CURVE25519)
    with pytest.raises(WelcomeWrapperError, match="CURVE25519"):
        unwrap_welcome(wrapped.data, wrapped.welcome_metadata, other_sk, WrapperAlgorithm.CURVE25519)


def test_algorithm_mismatch_and_garbage_fail_clearly() -> None:
    seed = os.urandom(32)
    wrapped = wrap_welcome(WELCOME, METADATA, XWingKem().public_key(seed), XWING)
    with pytest.raises(WelcomeWrapperError):
        unwrap_welcome(wrapped.data, b"", seed, WrapperAlgorithm.CURVE25519)
    with pytest.raises(WelcomeWrapperError, match="HpkeCiphertext"):
        unwrap_welcome(b"\x05abc", b"", seed, XWING)
    with pytest.raises(WelcomeWrapperError, match="cannot wrap"):
        wrap_welcome(WELCOME, METADATA, b"\x00" * 31, XWING)
    with pytest.raises(WelcomeWrapperError, match="not an HPKE wrapper"):
        wrap_welcome(WELCOME, METADATA, b"\x00" * 32, WrapperAlgorithm.SYMMETRIC_KEY)


def test_tampered_metadata_fails() -> None:
    sk, pk = X25519.kem.generate_key_pair()
    wrapped = wrap_welcome(WELCOME, METADATA, pk, WrapperAlgorithm.CURVE25519)
    bad = bytes([wrapped.welcome_metadata[0] ^ 1]) + wrapped.welcome_metadata[1:]
    with pytest.raises(WelcomeWrapperError):
        unwrap_welcome(wrapped.data, bad, sk, WrapperAlgorithm.CURVE25519)


def test_welcome_pointer_round_trip() -> None:
    seed = os.urandom(32)
    pointee = encrypt_pointee(WELCOME, METADATA)
    assert len(pointee.pointer.destination) == 32 and len(pointee.pointer.encryption_key) == 32
    assert pointee.pointer.data_nonce != pointee.pointer.welcome_metadata_nonce
    wrapped_pointer = wrap_welcome_pointer(pointee.pointer, XWingKem().public_key(seed))
    assert wrapped_pointer[:2] == b"\x44\x60"
    pointer = unwrap_welcome_pointer(wrapped_pointer, seed)
    assert pointer == pointee.pointer
    got = decrypt_pointee(pointer, pointee.data, pointee.welcome_metadata)
    assert (got.welcome, got.welcome_metadata) == (WELCOME, METADATA)


def test_welcome_pointer_proto_field_numbers() -> None:
    pointer = WelcomePointer(b"D" * 32, 3, b"K" * 32, b"N" * 12, b"M" * 12)
    raw = pointer.to_proto_bytes()
    # oneof field 1 (welcome_v1_pointer) holding fields 1..5
    inner = b"\x0a\x20" + b"D" * 32 + b"\x10\x03" + b"\x1a\x20" + b"K" * 32 + b"\x22\x0c" + b"N" * 12
    inner += b"\x2a\x0c" + b"M" * 12
    assert raw == b"\x0a" + bytes([len(inner)]) + inner
    assert WelcomePointer.from_proto_bytes(raw) == pointer


def test_pointee_with_wrong_key_or_unadvertised_aead_fails() -> None:
    pointee = encrypt_pointee(WELCOME, METADATA)
    forged = WelcomePointer(pointee.pointer.destination, 3, os.urandom(32), pointee.pointer.data_nonce, b"M" * 12)
    with pytest.raises(WelcomeWrapperError, match="does not decrypt"):
        decrypt_pointee(forged, pointee.data, pointee.welcome_metadata)
    with pytest.raises(WelcomeWrapperError, match="not advertised"):
        decrypt_pointee(pointee.pointer, pointee.data, pointee.welcome_metadata, supported_aead_types=())


@pytest.mark.parametrize(
    ("pointer", "message"),
    [
        (WelcomePointer(b"d" * 32, 0, b"k" * 32, b"n" * 12, b"m" * 12), "AEAD type 0"),
        (WelcomePointer(b"d" * 32, 3, b"k" * 16, b"n" * 12, b"m" * 12), "key must be 32"),
        (WelcomePointer(b"d" * 32, 3, b"k" * 32, b"n" * 8, b"m" * 12), "nonces"),
        (WelcomePointer(b"", 3, b"k" * 32, b"n" * 12, b"m" * 12), "destination"),
    ],
)
def test_malformed_pointers_are_refused(pointer: WelcomePointer, message: str) -> None:
    with pytest.raises(WelcomeWrapperError, match=message):
        WelcomePointer.from_proto_bytes(pointer.to_proto_bytes())


def test_pointer_proto_without_version_is_refused() -> None:
    with pytest.raises(WelcomeWrapperError, match="welcome_v1_pointer"):
        WelcomePointer.from_proto_bytes(b"")
