"""HPKE known answers from RFC 9180 Appendix A.1.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, base).

Covers DeriveKeyPair, Encap with the published ephemeral key, the key schedule, the per-message nonce of
sequence numbers 0 and 1, and the exporter.
"""

from __future__ import annotations

from xmtp_core.mls.hpke import AES128GCM, HpkeSuite
from xmtp_core.mls.kdf import SHA256
from xmtp_core.mls.kem import X25519Kem

KEM = X25519Kem()
SUITE = HpkeSuite(KEM, SHA256, AES128GCM)
H = bytes.fromhex

INFO = H("4f6465206f6e2061204772656369616e2055726e")
IKM_E = H("7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234")
PK_EM = H("37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431")
SK_EM = H("52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736")
IKM_R = H("6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037")
PK_RM = H("3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d")
SK_RM = H("4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8")
SHARED_SECRET = H("fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc")
KEY = H("4531685d41d65f03dc48f6b8302c05b0")
BASE_NONCE = H("56d890e5accaaf011cff4b7d")
EXPORTER_SECRET = H("45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8")
PT = H("4265617574792069732074727574682c20747275746820626561757479")
CT0 = H("f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a")
CT1 = H("af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84")
EXPORTS = [
    (b"", H("3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee")),
    (b"\x00", H("2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5")),
    (b"TestContext", H("e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931")),
]


def test_derive_key_pair() -> None:
    assert KEM.derive_key_pair(IKM_E) == (SK_EM, PK_EM)
    assert KEM.derive_key_pair(IKM_R) == (SK_RM, PK_RM)


def test_encap_decap() -> None:
    assert KEM.encap_with_ephemeral(PK_RM, SK_EM, PK_EM) == (SHARED_SECRET, PK_EM)
    assert KEM.decap(PK_EM, SK_RM) == SHARED_SECRET


def test_key_schedule_seal_and_export() -> None:
    ctx = SUITE.key_schedule(SHARED_SECRET, INFO)
    assert (ctx.key, ctx.base_nonce, ctx.exporter_secret) == (KEY, BASE_NONCE, EXPORTER_SECRET)
    assert ctx.seal(b"Count-0", PT) == CT0
    assert ctx.seal(b"Count-1", PT) == CT1
    for exporter_context, expected in EXPORTS:
        assert ctx.export(exporter_context, 32) == expected


def test_receiver_opens_in_sequence() -> None:
    ctx = SUITE.setup_base_r(PK_EM, SK_RM, INFO)
    assert ctx.open(b"Count-0", CT0) == PT
    assert ctx.open(b"Count-1", CT1) == PT
