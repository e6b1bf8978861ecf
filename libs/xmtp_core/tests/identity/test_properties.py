"""Property tests: identifier normalisation, timestamps, random membership histories against a model, and
single-byte signature corruption."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import string
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xmtp_core.identity import (
    AssociationError,
    InstallationKeySigner,
    InvalidIdentifierError,
    LocalWalletSigner,
    apply_update_sync,
    build_add_installation,
    build_link_wallet,
    build_register,
    build_revoke_installation,
    build_unlink_wallet,
    ethereum_address,
    inbox_id,
    verify_log_sync,
)
from xmtp_core.identity.signature_text import format_timestamp
from xmtp_core.protos.identity.associations import association_pb2 as pb

_clock = itertools.count(1_600_000_000_000_000_000, 1_000_000_000)


@given(st.binary(min_size=20, max_size=20), st.lists(st.booleans(), min_size=40, max_size=40), st.booleans())
def test_address_normalisation(raw: bytes, upper: list[bool], prefix: bool) -> None:
    body = "".join(c.upper() if u else c for c, u in zip(raw.hex(), upper, strict=True))
    address = ethereum_address(("0x" if prefix else "") + body)
    assert address.address == "0x" + raw.hex()
    derived = inbox_id(address, 1)
    assert len(derived) == 64 and set(derived) <= set(string.hexdigits.lower())
    assert derived == hashlib.sha256(f"0x{raw.hex()}1".encode()).hexdigest()


@given(st.text(max_size=44).filter(lambda s: len(s.removeprefix("0x")) != 40))
def test_addresses_of_wrong_length_are_refused(text: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        ethereum_address(text)


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_timestamp_formatting(ns: int) -> None:
    moment = datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC)
    assert format_timestamp(ns) == moment.isoformat().replace("+00:00", "Z")


_WALLETS = [LocalWalletSigner(hashlib.sha256(f"prop wallet {n}".encode()).digest()) for n in range(4)]
_INSTALLATIONS = [InstallationKeySigner(hashlib.sha256(f"prop inst {n}".encode()).digest()) for n in range(8)]


def _candidates(installations: dict[int, int], wallets: set[int]) -> list[tuple[str, int, int]]:
    """Every operation that is valid now: (kind, installation index, wallet index)."""
    ops = [("add", i, w) for i in range(len(_INSTALLATIONS)) if i not in installations for w in sorted(wallets)]
    ops += [("revoke", i, 0) for i in sorted(installations)]
    ops += [("link", 0, w) for w in range(1, len(_WALLETS)) if w not in wallets]
    ops += [("unlink", 0, w) for w in sorted(wallets) if w != 0]
    return ops


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_random_histories_match_a_simple_model(data: st.DataObject) -> None:
    """Installations: added by a current wallet, removed when revoked or when the wallet that added them is
    unlinked. Wallets: linked and unlinked by the owner (the recovery identifier)."""
    owner = _WALLETS[0]
    log = [asyncio.run(build_register(owner, _INSTALLATIONS[0], client_timestamp_ns=next(_clock)))]
    inbox = log[0].inbox_id
    installations: dict[int, int] = {0: 0}  # installation index -> wallet index that added it
    wallets = {0}
    for _ in range(data.draw(st.integers(0, 10), label="length")):
        kind, i, w = data.draw(st.sampled_from(_candidates(installations, wallets)), label="operation")
        at = next(_clock)  # distinct timestamps: repeated operations never collide as replays
        if kind == "add":
            build = build_add_installation(inbox, _WALLETS[w], _INSTALLATIONS[i], client_timestamp_ns=at)
            installations[i] = w
        elif kind == "revoke":
            build = build_revoke_installation(inbox, owner, _INSTALLATIONS[i].public_key, client_timestamp_ns=at)
            del installations[i]
        elif kind == "link":
            build = build_link_wallet(inbox, owner, _WALLETS[w], client_timestamp_ns=at)
            wallets.add(w)
        else:
            build = build_unlink_wallet(inbox, owner, _WALLETS[w].identifier.address, client_timestamp_ns=at)
            wallets.discard(w)
            installations = {k: v for k, v in installations.items() if v != w}
        log.append(asyncio.run(build))
    state = verify_log_sync(log)
    assert set(state.installation_keys()) == {_INSTALLATIONS[i].public_key for i in installations}
    assert {a.text() for a in state.identifiers()} == {_WALLETS[w].identifier.address for w in wallets}


_REGISTER = asyncio.run(build_register(_WALLETS[0], _INSTALLATIONS[0], client_timestamp_ns=1_650_000_000_000_000_000))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["wallet", "installation"]), st.integers(0, 63), st.integers(1, 255))
def test_any_corrupted_signature_byte_is_refused(which: str, position: int, flip: int) -> None:
    forged = pb.IdentityUpdate()
    forged.CopyFrom(_REGISTER)
    if which == "wallet":
        # r and s only: the v byte has equivalent encodings (27/0/35+) that libxmtp accepts too.
        signature = forged.actions[0].create_inbox.initial_identifier_signature.erc_191
    else:
        signature = forged.actions[1].add.new_member_signature.installation_key
    raw = bytearray(signature.bytes)
    raw[position] ^= flip
    signature.bytes = bytes(raw)
    with pytest.raises(AssociationError):
        apply_update_sync(None, forged)
