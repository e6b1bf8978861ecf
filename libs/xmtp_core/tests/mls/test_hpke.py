"""HPKE (RFC 9180 base mode), DHKEMs, AEADs and signatures across MLS cipher suites 1–7."""

from __future__ import annotations

import pytest
from xmtp_core.mls.cipher_suite import get_cipher_suite, supported_cipher_suites
from xmtp_core.mls.errors import CryptoError, UnsupportedError

SUITES = supported_cipher_suites()


def flip(data: bytes, index: int = 0) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


def test_suites_are_1_to_7() -> None:
    assert SUITES == [1, 2, 3, 4, 5, 6, 7]
    with pytest.raises(UnsupportedError):
        get_cipher_suite(8)
    with pytest.raises(UnsupportedError):
        get_cipher_suite(0)


@pytest.mark.parametrize("suite", SUITES)
def test_hpke_round_trip_and_tamper(suite: int) -> None:
    cs = get_cipher_suite(suite)
    sk, pk = cs.generate_hpke_key_pair()
    assert (len(sk), len(pk)) == (cs.kem.n_sk, cs.kem.n_pk)
    enc, ct = cs.hpke_seal(pk, b"info", b"aad", b"hello")
    assert len(enc) == cs.kem.n_enc
    assert cs.hpke_open(sk, enc, b"info", b"aad", ct) == b"hello"
    with pytest.raises(CryptoError):
        cs.hpke_open(sk, enc, b"info", b"aad", flip(ct))
    with pytest.raises(CryptoError):
        cs.hpke_open(sk, enc, b"other info", b"aad", ct)
    with pytest.raises(CryptoError):
        cs.hpke_open(sk, enc, b"info", b"other aad", ct)
    other_sk, _ = cs.generate_hpke_key_pair()
    with pytest.raises(CryptoError):
        cs.hpke_open(other_sk, enc, b"info", b"aad", ct)


@pytest.mark.parametrize("suite", SUITES)
def test_encrypt_with_label_binds_label_and_context(suite: int) -> None:
    cs = get_cipher_suite(suite)
    sk, pk = cs.generate_hpke_key_pair()
    kem_output, ct = cs.encrypt_with_label(pk, b"UpdatePathNode", b"ctx", b"secret")
    assert cs.decrypt_with_label(sk, b"UpdatePathNode", b"ctx", kem_output, ct) == b"secret"
    with pytest.raises(CryptoError):
        cs.decrypt_with_label(sk, b"Welcome", b"ctx", kem_output, ct)
    with pytest.raises(CryptoError):
        cs.decrypt_with_label(sk, b"UpdatePathNode", b"ctx2", kem_output, ct)


@pytest.mark.parametrize("suite", [1, 2, 4])
def test_multi_message_context_and_export(suite: int) -> None:
    cs = get_cipher_suite(suite)
    sk, pk = cs.generate_hpke_key_pair()
    enc, sender = cs.hpke_sender_context(pk, b"info")
    cts = [sender.seal(b"", f"msg {i}".encode()) for i in range(3)]
    assert len(set(cts)) == 3
    receiver = cs.hpke_receiver_context(sk, enc, b"info")
    assert receiver.export(b"ctx", 42) == sender.export(b"ctx", 42)
    assert cs.hpke_export(sk, enc, b"info", b"ctx", 42) == sender.export(b"ctx", 42)
    assert receiver.open(b"", cts[0]) == b"msg 0"
    with pytest.raises(CryptoError):  # sequence number 1 cannot open message 2
        receiver.open(b"", cts[2])
    fresh = cs.hpke_receiver_context(sk, enc, b"info")
    assert [fresh.open(b"", ct) for ct in cts] == [b"msg 0", b"msg 1", b"msg 2"]


@pytest.mark.parametrize("suite", SUITES)
def test_derive_key_pair_is_deterministic(suite: int) -> None:
    cs = get_cipher_suite(suite)
    sk1, pk1 = cs.derive_key_pair(b"\x01" * 32)
    sk2, pk2 = cs.derive_key_pair(b"\x01" * 32)
    assert (sk1, pk1) == (sk2, pk2)
    assert cs.derive_key_pair(b"\x02" * 32)[0] != sk1
    assert cs.kem.public_key(sk1) == pk1


@pytest.mark.parametrize("suite", [2, 5, 7])
def test_invalid_nist_public_key_rejected(suite: int) -> None:
    cs = get_cipher_suite(suite)
    _, pk = cs.generate_hpke_key_pair()
    bad = pk[:-1] + bytes([pk[-1] ^ 1])  # almost surely off the curve
    with pytest.raises(CryptoError):
        cs.hpke_seal(bad, b"", b"", b"x")
    with pytest.raises(CryptoError):
        cs.hpke_seal(pk[:-1], b"", b"", b"x")


def p521_key_with_leading_zero() -> bytes:
    """A P-521 HPKE private key whose fixed-width form starts with 0x00 (about every second key does)."""
    kem = get_cipher_suite(5).kem
    for i in range(64):
        sk, _ = kem.derive_key_pair(bytes([i]) * 66)
        if sk[0] == 0:
            return sk
    raise AssertionError("no P-521 key with a leading zero byte in 64 tries")


def test_nist_private_key_must_be_exactly_nsk_bytes() -> None:
    kem = get_cipher_suite(5).kem
    sk = p521_key_with_leading_zero()
    assert len(sk) == kem.n_sk == 66
    kem.public_key(sk)
    with pytest.raises(CryptoError, match="66 bytes"):
        kem.public_key(sk[1:])  # the same scalar without its leading zero (RFC 9180 §7.1.2 wants Nsk bytes)
    with pytest.raises(CryptoError, match="66 bytes"):
        kem.public_key(b"\x00" + sk)


@pytest.mark.parametrize("suite", SUITES)
def test_aead_tamper_raises_crypto_error(suite: int) -> None:
    cs = get_cipher_suite(suite)
    key, nonce = bytes(cs.aead_key_len), bytes(cs.aead_nonce_len)
    ct = cs.aead_encrypt(key, nonce, b"aad", b"plaintext")
    assert cs.aead_decrypt(key, nonce, b"aad", ct) == b"plaintext"
    for bad in (flip(ct), flip(ct, len(ct) - 1)):
        with pytest.raises(CryptoError):
            cs.aead_decrypt(key, nonce, b"aad", bad)
    with pytest.raises(CryptoError):
        cs.aead_decrypt(key, nonce, b"aaD", ct)
    with pytest.raises(CryptoError):
        cs.aead_decrypt(key[:-1], nonce, b"aad", ct)


@pytest.mark.parametrize("suite", SUITES)
def test_sign_with_label(suite: int) -> None:
    cs = get_cipher_suite(suite)
    sk, pk = cs.generate_signature_key_pair()
    assert cs.signature_public_key(sk) == pk
    sig = cs.sign_with_label(sk, b"LeafNodeTBS", b"content")
    assert cs.verify_with_label(pk, b"LeafNodeTBS", b"content", sig)
    assert not cs.verify_with_label(pk, b"LeafNodeTBS", b"contenT", sig)
    assert not cs.verify_with_label(pk, b"KeyPackageTBS", b"content", sig)
    assert not cs.verify_with_label(pk, b"LeafNodeTBS", b"content", flip(sig, len(sig) - 1))
    assert not cs.verify_with_label(pk[:-1], b"LeafNodeTBS", b"content", sig)


def test_expand_with_label_layout() -> None:
    cs = get_cipher_suite(1)
    # KDFLabel = uint16 length || "MLS 1.0 " + label <V> || context <V>
    info = (16).to_bytes(2, "big") + bytes([8 + 4]) + b"MLS 1.0 test" + bytes([3]) + b"ctx"
    assert cs.expand_with_label(b"k" * 32, b"test", b"ctx", 16) == cs.kdf_expand(b"k" * 32, info, 16)
    assert cs.hash_len == 32 and cs.aead_key_len == 16 and cs.aead_nonce_len == 12
    assert get_cipher_suite(5).hash_len == 64 and get_cipher_suite(7).hash_len == 48


@pytest.mark.parametrize("suite", [1, 4])
def test_low_order_montgomery_point_rejected(suite: int) -> None:
    cs = get_cipher_suite(suite)
    with pytest.raises(CryptoError):
        cs.hpke_seal(bytes(cs.kem.n_pk), b"", b"", b"x")  # the zero point gives an all-zero DH output
    with pytest.raises(CryptoError):
        cs.hpke_seal(bytes(cs.kem.n_pk - 1), b"", b"", b"x")
