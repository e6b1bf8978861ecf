"""Welcome delivery: direct V1 Welcomes, or (more than two capable recipients) one pointee plus pointers."""

from __future__ import annotations

import os

from xmtp_core.xmtp_mls.key_package import KeyPackageBundle, build_key_package, parse_key_package
from xmtp_core.xmtp_mls.welcome_delivery import welcome_inputs
from xmtp_core.xmtp_mls.welcome_wrapper import (
    UnwrappedWelcome,
    WrapperAlgorithm,
    decrypt_pointee,
    unwrap_welcome,
    unwrap_welcome_pointer,
)

WELCOME, METADATA = b"welcome-bytes" * 20, b"\x08\x07"


def _bundles(n: int, *, post_quantum: bool = True, welcome_pointers: bool = True) -> list[KeyPackageBundle]:
    return [
        build_key_package(f"{i:02x}" * 32, os.urandom(32), post_quantum=post_quantum, welcome_pointers=welcome_pointers)
        for i in range(n)
    ]


def _receive(bundle: KeyPackageBundle, inputs: list[object]) -> UnwrappedWelcome:
    """What one installation does: find its entry and open it (following a pointer to the pointee)."""
    by_key = {}
    for item in inputs:
        kind = item.WhichOneof("version")  # type: ignore[attr-defined]
        entry = getattr(item, kind)
        by_key[bytes(entry.installation_key)] = (kind, entry)
    kind, entry = by_key[bundle.installation_key]
    if kind == "v1":
        algorithm = WrapperAlgorithm(entry.wrapper_algorithm)
        key = bundle.xwing_seed if algorithm == WrapperAlgorithm.XWING_MLKEM_768_DRAFT_6 else bundle.init_private_key
        return unwrap_welcome(entry.data, entry.welcome_metadata, key or b"", algorithm)
    pointer = unwrap_welcome_pointer(entry.welcome_pointer, bundle.xwing_seed or b"")
    _, pointee = by_key[pointer.destination]
    assert pointee.wrapper_algorithm == WrapperAlgorithm.SYMMETRIC_KEY and not pointee.hpke_public_key
    return decrypt_pointee(pointer, pointee.data, pointee.welcome_metadata)


def test_two_capable_recipients_get_direct_welcomes() -> None:
    bundles = _bundles(2)
    inputs = welcome_inputs(WELCOME, METADATA, [parse_key_package(b.tls_bytes) for b in bundles])
    assert [i.WhichOneof("version") for i in inputs] == ["v1", "v1"]
    assert all(i.v1.wrapper_algorithm == 2 for i in inputs)
    for bundle in bundles:
        assert _receive(bundle, list(inputs)) == UnwrappedWelcome(WELCOME, METADATA)


def test_three_capable_recipients_share_one_pointee() -> None:
    capable = _bundles(3)
    legacy = _bundles(1, post_quantum=False, welcome_pointers=False)
    peers = [parse_key_package(b.tls_bytes) for b in capable + legacy]
    inputs = welcome_inputs(WELCOME, METADATA, peers)
    kinds = [i.WhichOneof("version") for i in inputs]
    assert kinds == ["v1", "welcome_pointer", "welcome_pointer", "welcome_pointer", "v1"]
    assert int(inputs[0].v1.wrapper_algorithm) == WrapperAlgorithm.SYMMETRIC_KEY
    assert int(inputs[-1].v1.wrapper_algorithm) == WrapperAlgorithm.CURVE25519
    assert all(i.welcome_pointer.wrapper_algorithm == 2 for i in inputs[1:4])
    for bundle in capable + legacy:
        assert _receive(bundle, list(inputs)) == UnwrappedWelcome(WELCOME, METADATA)


def test_pointers_can_be_turned_off() -> None:
    bundles = _bundles(3)
    inputs = welcome_inputs(WELCOME, METADATA, [parse_key_package(b.tls_bytes) for b in bundles], use_pointers=False)
    assert [i.WhichOneof("version") for i in inputs] == ["v1"] * 3


def test_pointer_capable_needs_an_xwing_key() -> None:
    # 0xFF04 without 0xFF03: pointers cannot be wrapped, so these get direct Curve25519 Welcomes.
    bundles = _bundles(3, post_quantum=False)
    inputs = welcome_inputs(WELCOME, METADATA, [parse_key_package(b.tls_bytes) for b in bundles], use_pointers=True)
    assert [int(i.v1.wrapper_algorithm) for i in inputs] == [WrapperAlgorithm.CURVE25519] * 3
