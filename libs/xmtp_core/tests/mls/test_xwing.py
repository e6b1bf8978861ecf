"""X-Wing draft-06 KEM: the draft's known-answer vectors, HPKE use with both code points, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from xmtp_core.mls.codec import encode_vec
from xmtp_core.mls.errors import CryptoError
from xmtp_core.mls.hpke import CHACHA20POLY1305, HpkeSuite
from xmtp_core.mls.kdf import SHA256
from xmtp_core.mls.xwing import KEM_ID_XWING_DRAFT06, KEM_ID_XWING_IANA, XWingKem, xwing_hpke_suite

from ._mlkem768_encaps import encaps_internal

_FILE = Path(__file__).parent / "vectors" / "xwing-draft06.json"
VECTORS: list[dict[str, Any]] = json.loads(_FILE.read_text())["vectors"]
KEM = XWingKem()


@pytest.mark.parametrize("v", VECTORS, ids=[str(i) for i in range(len(VECTORS))])
def test_keygen_and_decaps_vectors(v: dict[str, Any]) -> None:
    sk, pk = KEM.key_pair_from_seed(bytes.fromhex(v["seed"]))
    assert sk.hex() == v["sk"]
    assert pk.hex() == v["pk"]
    assert KEM.decap(bytes.fromhex(v["ct"]), sk).hex() == v["ss"]


@pytest.mark.parametrize("v", VECTORS, ids=[str(i) for i in range(len(VECTORS))])
def test_derandomised_encaps_vectors(v: dict[str, Any]) -> None:
    pk, eseed = bytes.fromhex(v["pk"]), bytes.fromhex(v["eseed"])
    ss_m, ct_m = encaps_internal(pk[:1184], eseed[:32])
    ss, ct = KEM.encap_from_parts(pk, ss_m, ct_m, eseed[32:])
    assert ct.hex() == v["ct"]
    assert ss.hex() == v["ss"]


def test_random_round_trip_and_sizes() -> None:
    sk, pk = KEM.generate_key_pair()
    assert (len(sk), len(pk)) == (32, 1216)
    ss, ct = KEM.encap(pk)
    assert len(ct) == 1120
    assert KEM.decap(ct, sk) == ss
    # ML-KEM rejects implicitly: a tampered ciphertext yields a different secret, not an error.
    assert KEM.decap(ct[:5] + bytes([ct[5] ^ 1]) + ct[6:], sk) != ss


def test_bad_lengths_raise() -> None:
    sk, pk = KEM.generate_key_pair()
    with pytest.raises(CryptoError):
        KEM.encap(pk[:-1])
    with pytest.raises(CryptoError):
        KEM.decap(b"\x00" * 1119, sk)
    with pytest.raises(CryptoError):
        KEM.public_key(sk + b"\x00")


def test_derive_key_pair_is_deterministic() -> None:
    assert KEM.derive_key_pair(b"ikm") == KEM.derive_key_pair(b"ikm")
    assert KEM.derive_key_pair(b"ikm") != KEM.derive_key_pair(b"ikm2")


def test_hpke_welcome_wrapper_shape() -> None:
    suite = xwing_hpke_suite()
    assert suite.suite_id.hex() == "48504b45004d00010003"
    info = encode_vec(b"MLS 1.0 MLS_WELCOME") + encode_vec(b"")
    assert info.hex() == "13" + b"MLS 1.0 MLS_WELCOME".hex() + "00"
    sk, pk = suite.kem.generate_key_pair()
    enc, ctx = suite.setup_base_s(pk, info)
    welcome, metadata = ctx.seal(b"", b"welcome"), ctx.seal(b"", b"metadata")
    assert encode_vec(enc)[:2].hex() == "4460"
    receiver = suite.setup_base_r(enc, sk, info)
    assert receiver.open(b"", welcome) == b"welcome"
    assert receiver.open(b"", metadata) == b"metadata"


def test_code_points_give_different_keys() -> None:
    old = xwing_hpke_suite(KEM_ID_XWING_DRAFT06)
    new = HpkeSuite(XWingKem(KEM_ID_XWING_IANA), SHA256, CHACHA20POLY1305)
    sk, pk = old.kem.generate_key_pair()
    enc, ct = old.seal(pk, b"info", b"", b"pt")
    assert old.open(sk, enc, b"info", b"", ct) == b"pt"
    with pytest.raises(CryptoError):
        new.open(sk, enc, b"info", b"", ct)
