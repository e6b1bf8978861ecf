"""KeyCache (bounded LRU of loaded key objects) and the schemes that use it: cached keys give the same results."""

from __future__ import annotations

import pytest
from xmtp_core.mls._key_cache import KeyCache
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.credentials import Credential
from xmtp_core.mls.errors import SignatureError
from xmtp_core.mls.group import Group, StagedCommit
from xmtp_core.mls.kem import KEM_KEY_CACHE_SIZE, X25519Kem, get_kem
from xmtp_core.mls.own_key_package import create_key_package
from xmtp_core.mls.proposals import Proposal
from xmtp_core.mls.signature import ECDSA_P256_SHA256, ED448, ED25519, SignatureScheme


def test_cache_loads_once_and_evicts_least_recently_used() -> None:
    loads: list[bytes] = []

    def load(raw: bytes) -> str:
        loads.append(raw)
        return raw.hex()

    cache: KeyCache[str] = KeyCache(2)
    assert cache.get(b"\x01", load) == "01"
    assert cache.get(b"\x02", load) == "02"
    assert cache.get(b"\x01", load) == "01"  # hit, and now the most recent
    assert cache.get(b"\x03", load) == "03"  # evicts 02
    assert len(cache) == 2
    assert cache.get(b"\x01", load) == "01"
    assert cache.get(b"\x02", load) == "02"
    assert loads == [b"\x01", b"\x02", b"\x03", b"\x02"]


def test_failed_load_is_not_cached() -> None:
    def load(raw: bytes) -> str:
        raise ValueError("bad key")

    cache: KeyCache[str] = KeyCache(4)
    with pytest.raises(ValueError):
        cache.get(b"k", load)
    assert len(cache) == 0


def test_repr_hides_keys_and_clear_empties() -> None:
    cache: KeyCache[str] = KeyCache(4)
    cache.put(b"secret-key-bytes", "obj")
    assert "secret" not in repr(cache) and "736563" not in repr(cache)
    cache.clear()
    assert len(cache) == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        KeyCache(0)


@pytest.mark.parametrize("scheme", [ED25519, ED448, ECDSA_P256_SHA256], ids=lambda s: s.name)
def test_signatures_verify_across_many_keys(scheme: SignatureScheme) -> None:
    """More keys than the cache holds, used twice each: evicted keys reload and still sign correctly."""
    pairs = [scheme.generate_key_pair() for _ in range(20)]
    for _ in range(2):
        for sk, pk in pairs:
            assert scheme.public_key(sk) == pk
            assert scheme.verify(pk, b"msg", scheme.sign(sk, b"msg"))


def test_invalid_signing_key_still_raises() -> None:
    with pytest.raises(SignatureError):
        ED25519.sign(b"short", b"msg")
    with pytest.raises(SignatureError):
        ED25519.sign(b"short", b"msg")  # not cached after the first failure


@pytest.mark.parametrize("kem_id", [0x0020, 0x0021, 0x0010], ids=["x25519", "x448", "p256"])
def test_kem_round_trips_across_more_keys_than_cached(kem_id: int) -> None:
    """Generated and derived keys, more than the cache holds: decap still finds each key's shared secret."""
    kem = get_kem(kem_id)
    pairs = [kem.generate_key_pair() for _ in range(KEM_KEY_CACHE_SIZE)]
    pairs += [kem.derive_key_pair(bytes([i]) * kem.n_sk) for i in range(KEM_KEY_CACHE_SIZE)]
    for sk, pk in pairs:
        assert kem.public_key(sk) == pk
        shared, enc = kem.encap(pk)
        assert kem.decap(enc, sk) == shared


def test_kem_encap_uses_a_fresh_ephemeral_each_time() -> None:
    kem = get_kem(0x0020)
    _, pk = kem.generate_key_pair()
    (s1, e1), (s2, e2) = kem.encap(pk), kem.encap(pk)
    assert e1 != e2 and s1 != s2


def _x25519_cache() -> KeyCache[object]:
    kem = get_kem(0x0020)
    assert isinstance(kem, X25519Kem)
    return kem._keys  # type: ignore[return-value]


def test_keys_a_group_deletes_leave_the_kem_cache() -> None:
    """Join drops the single-use init key; a merged commit drops the path keys the new epoch no longer holds."""
    suite = get_cipher_suite(3)
    creator = Group.create(3, suite.generate_signature_key_pair()[0], Credential.basic(b"a"))
    bundle = create_key_package(3, suite.generate_signature_key_pair()[0], Credential.basic(b"b"))
    staged = creator.commit([Proposal.add(bundle.key_package)])
    creator.merge_staged_commit(staged)
    assert staged.welcome is not None
    joiner = Group.join(staged.welcome, bundle)
    cache = _x25519_cache()
    assert bundle.init_priv not in cache
    for committer, receiver in ((creator, joiner), (joiner, creator), (creator, joiner)):
        before = set(receiver.epoch_state.path_keys.keys.values())
        mine_before = set(committer.epoch_state.path_keys.keys.values())
        commit = committer.commit(force_path=True)
        assert commit.message is not None
        committer.merge_staged_commit(commit)
        received = receiver.process_message(commit.message.to_bytes())
        assert isinstance(received, StagedCommit)
        receiver.merge_staged_commit(received)
        for group, old in ((receiver, before), (committer, mine_before)):
            gone = old - set(group.epoch_state.path_keys.keys.values())
            assert group is receiver or gone, "a committer replaces at least its leaf key"
            assert not any(sk in cache for sk in gone)
