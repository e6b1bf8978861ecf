"""XMTP key packages: the bytes we build follow the profile, and peer validation refuses what libxmtp refuses."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.extensions import Extension, find_extension
from xmtp_core.mls.key_package import KeyPackage
from xmtp_core.mls.own_key_package import create_key_package
from xmtp_core.mls.signature import ED25519
from xmtp_core.mls.xwing import XWingKem
from xmtp_core.xmtp_mls.credential import application_id_extension, build_credential
from xmtp_core.xmtp_mls.errors import KeyPackageError
from xmtp_core.xmtp_mls.key_package import (
    build_key_package,
    parse_key_package,
    wrapper_encryption_extension,
    xmtp_capabilities,
    xmtp_lifetime,
)
from xmtp_core.xmtp_mls.welcome_wrapper import WrapperAlgorithm

INBOX = "ab" * 32
NOW = 1_780_000_000
SUITE = get_cipher_suite(3)


@pytest.fixture(scope="module")
def installation_seed() -> bytes:
    return os.urandom(32)


def _resign(kp: KeyPackage, seed: bytes) -> bytes:
    leaf = kp.leaf_node.signed(SUITE, seed)
    return replace(kp, leaf_node=leaf).signed(SUITE, seed).to_bytes()


def test_built_key_package_has_the_profile_shape(installation_seed: bytes) -> None:
    bundle = build_key_package(INBOX, installation_seed, now=NOW)
    kp = KeyPackage.from_bytes(bundle.tls_bytes)
    assert bundle.tls_bytes[:4] == b"\x00\x01\x00\x03"  # mls10, suite 0x0003
    assert kp.leaf_node.signature_key == ED25519.public_key(installation_seed) == bundle.installation_key
    assert kp.leaf_node.credential == build_credential(INBOX)
    assert kp.leaf_node.extensions == (application_id_extension(INBOX),)
    caps = kp.leaf_node.capabilities
    assert caps.cipher_suites == (3,)
    # libxmtp 1.9.1's list and order, then AppDataDictionary (HEAD)
    assert caps.extensions == (0x000A, 0x0001, 0xFF02, 0xFF00, 0xFF01, 0xFF03, 0xFF04, 0xF000, 0x0006)
    assert caps.proposals == (7, 8)
    assert caps.credentials == (1,) and caps.versions == (1,)
    assert kp.leaf_node.lifetime is not None
    assert (kp.leaf_node.lifetime.not_before, kp.leaf_node.lifetime.not_after) == (NOW - 3600, NOW + 84 * 86400)
    assert [e.extension_type for e in kp.extensions] == [0x000A, 0xFF04, 0xFF03]
    assert kp.extensions[0].extension_data == b""
    assert kp.extensions[1].extension_data == b"\x0a\x01\x03"  # packed repeated enum [CHACHA20_POLY1305]
    xwing_pk = XWingKem().public_key(bundle.xwing_seed or b"")
    # field 1 bytes (len 1216 = varint c0 09), field 2 enum = 2
    assert kp.extensions[2].extension_data == b"\x0a\xc0\x09" + xwing_pk + b"\x10\x02"
    assert bundle.xwing_public_key == xwing_pk


def test_private_keys_match_the_published_public_keys(installation_seed: bytes) -> None:
    bundle = build_key_package(INBOX, installation_seed)
    kp = bundle.key_package
    assert SUITE.kem.public_key(bundle.init_private_key) == kp.init_key
    assert SUITE.kem.public_key(bundle.encryption_private_key) == kp.leaf_node.encryption_key
    assert bundle.ref == kp.ref(SUITE)


def test_parse_accepts_our_own_key_package(installation_seed: bytes) -> None:
    bundle = build_key_package(INBOX, installation_seed, now=NOW)
    peer = parse_key_package(bundle.tls_bytes, now=NOW, expected_inbox_id=INBOX)
    assert peer.inbox_id == INBOX
    assert peer.installation_key == bundle.installation_key
    assert peer.wrapper.algorithm == WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6
    assert peer.wrapper.public_key == bundle.xwing_public_key and peer.advertised_wrapper
    assert peer.pointee_aead_types == (3,) and peer.supports_welcome_pointers
    assert peer.last_resort
    assert peer.ref == bundle.ref


def test_without_0xff03_senders_wrap_to_the_init_key(installation_seed: bytes) -> None:
    bundle = build_key_package(INBOX, installation_seed, now=NOW, post_quantum=False, welcome_pointers=False)
    assert bundle.xwing_seed is None
    assert [e.extension_type for e in bundle.key_package.extensions] == [0x000A]
    peer = parse_key_package(bundle.tls_bytes, now=NOW)
    assert peer.wrapper.algorithm == WrapperAlgorithm.CURVE25519
    assert peer.wrapper.public_key == bundle.key_package.init_key
    assert not peer.advertised_wrapper and not peer.supports_welcome_pointers


def test_given_xwing_seed_is_used(installation_seed: bytes) -> None:
    seed = bytes(range(32))
    bundle = build_key_package(INBOX, installation_seed, xwing_seed=seed)
    assert bundle.xwing_seed == seed
    assert parse_key_package(bundle.tls_bytes).wrapper.public_key == XWingKem().public_key(seed)


def test_tampered_bytes_fail_signature_check(installation_seed: bytes) -> None:
    data = bytearray(build_key_package(INBOX, installation_seed, now=NOW).tls_bytes)
    data[10] ^= 0x01  # inside the init key
    with pytest.raises(KeyPackageError, match="signature"):
        parse_key_package(bytes(data), now=NOW)


def test_truncated_bytes_fail_to_decode(installation_seed: bytes) -> None:
    data = build_key_package(INBOX, installation_seed).tls_bytes
    with pytest.raises(KeyPackageError, match="decode"):
        parse_key_package(data[:-1])


@pytest.mark.parametrize("offset", [-3601, 84 * 86400 + 1])
def test_lifetime_must_cover_now(installation_seed: bytes, offset: int) -> None:
    data = build_key_package(INBOX, installation_seed, now=NOW).tls_bytes
    parse_key_package(data, now=NOW + offset - (1 if offset > 0 else -1))
    with pytest.raises(KeyPackageError, match="lifetime"):
        parse_key_package(data, now=NOW + offset)


def test_lifetime_longer_than_84_days_plus_an_hour_is_refused(installation_seed: bytes) -> None:
    kp = build_key_package(INBOX, installation_seed, now=NOW).key_package
    long_leaf = replace(kp.leaf_node, lifetime=replace(xmtp_lifetime(NOW), not_after=NOW + 84 * 86400 + 1))
    data = _resign(replace(kp, leaf_node=long_leaf), installation_seed)
    with pytest.raises(KeyPackageError, match="84 days"):
        parse_key_package(data, now=NOW)


def test_wrong_inbox_is_refused(installation_seed: bytes) -> None:
    data = build_key_package(INBOX, installation_seed).tls_bytes
    with pytest.raises(KeyPackageError, match="expected"):
        parse_key_package(data, expected_inbox_id="cd" * 32)


def test_application_id_must_match_the_credential(installation_seed: bytes) -> None:
    created = create_key_package(
        3,
        installation_seed,
        build_credential(INBOX),
        capabilities=xmtp_capabilities(),
        lifetime=xmtp_lifetime(NOW),
        leaf_extensions=(application_id_extension("ef" * 32),),
    )
    with pytest.raises(KeyPackageError, match="ApplicationId"):
        parse_key_package(created.key_package.to_bytes(), now=NOW)


def test_leaf_must_support_the_group_required_capabilities(installation_seed: bytes) -> None:
    caps = replace(xmtp_capabilities(), extensions=(0x000A, 0xF000, 0xFF00, 0xFF02))  # no 0xFF01
    bundle = build_key_package(INBOX, installation_seed, now=NOW, capabilities=caps)
    with pytest.raises(KeyPackageError, match="0xff01"):
        parse_key_package(bundle.tls_bytes, now=NOW)


def test_non_basic_credential_is_refused(installation_seed: bytes) -> None:
    kp = build_key_package(INBOX, installation_seed, now=NOW).key_package
    leaf = replace(kp.leaf_node, credential=replace(kp.leaf_node.credential, identity=b"\xff"))
    with pytest.raises(KeyPackageError, match="credential"):
        parse_key_package(_resign(replace(kp, leaf_node=leaf), installation_seed), now=NOW)


@pytest.mark.parametrize(
    ("extension", "message"),
    [
        (wrapper_encryption_extension(b"\x01" * 100, WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6), "1216 bytes"),
        (wrapper_encryption_extension(b"\x01" * 32, WrapperAlgorithm.SYMMETRIC_KEY), "SYMMETRIC_KEY"),
        (Extension(0xFF03, b"\xff\xff\xff"), "WelcomeWrapperEncryption"),
    ],
)
def test_bad_wrapper_extension_is_refused(installation_seed: bytes, extension: Extension, message: str) -> None:
    kp = build_key_package(INBOX, installation_seed, now=NOW, post_quantum=False).key_package
    data = _resign(replace(kp, extensions=(*kp.extensions, extension)), installation_seed)
    with pytest.raises(KeyPackageError, match=message):
        parse_key_package(data, now=NOW)


def test_curve25519_wrapper_key_in_0xff03_is_honoured(installation_seed: bytes) -> None:
    kp = build_key_package(INBOX, installation_seed, now=NOW, post_quantum=False).key_package
    _, x25519_pub = SUITE.generate_hpke_key_pair()
    ext = wrapper_encryption_extension(x25519_pub, WrapperAlgorithm.CURVE25519)
    peer = parse_key_package(_resign(replace(kp, extensions=(*kp.extensions, ext)), installation_seed), now=NOW)
    assert peer.wrapper.algorithm == WrapperAlgorithm.CURVE25519
    assert peer.wrapper.public_key == x25519_pub != kp.init_key
    assert find_extension(peer.key_package.extensions, 0xFF03) is not None


def test_wrong_suite_is_refused(installation_seed: bytes) -> None:
    kp = build_key_package(INBOX, installation_seed, now=NOW).key_package
    data = replace(kp, cipher_suite=1).signed(get_cipher_suite(1), installation_seed).to_bytes()
    with pytest.raises(KeyPackageError, match="0x0003"):
        parse_key_package(data, now=NOW)


def test_mls_bundle_needs_the_matching_installation_key(installation_seed: bytes) -> None:
    bundle = build_key_package(INBOX, installation_seed)
    mls_bundle = bundle.to_mls_bundle(installation_seed)
    assert mls_bundle.key_package == bundle.key_package
    assert (mls_bundle.init_priv, mls_bundle.encryption_priv) == (
        bundle.init_private_key,
        bundle.encryption_private_key,
    )
    with pytest.raises(KeyPackageError, match="does not match"):
        bundle.to_mls_bundle(os.urandom(32))
