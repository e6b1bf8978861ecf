"""Key parsing, key ids, repr hygiene and reading keys from env / secret files."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from xmtp_core.store import EncryptionKey, KeyConfigError, KeyRing, key_from_env, keys_from_env

HEX = os.urandom(32).hex()


def test_hex_with_and_without_prefix_give_same_key() -> None:
    assert EncryptionKey.from_hex(HEX) == EncryptionKey.from_hex("0x" + HEX)
    assert EncryptionKey.from_hex(HEX).hex() == HEX


@pytest.mark.parametrize(
    "bad",
    ["", HEX[:-2], HEX + "00", HEX[:-1] + "g", "0x" + HEX[:-2], " " * 64, HEX[:32]],
)
def test_malformed_keys_rejected_without_echoing(bad: str) -> None:
    with pytest.raises(KeyConfigError, match="64 hex characters") as info:
        EncryptionKey.from_hex(bad)
    if len(bad.strip()) >= 8:
        assert bad.strip()[2:10] not in str(info.value)


def test_repr_and_str_hide_material() -> None:
    k = EncryptionKey.from_hex(HEX)
    for text in (repr(k), str(k), repr(KeyRing(k)), f"{k}"):
        assert HEX not in text and HEX[:16] not in text
        assert "hidden" in text or "KeyRing" in text
    with pytest.raises(TypeError):
        pickle.dumps(k)


def test_key_id_depends_on_key_and_is_not_the_key() -> None:
    a, b = EncryptionKey.generate(), EncryptionKey.generate()
    assert a.key_id != b.key_id
    assert len(a.key_id) == 8
    assert a.key_id.hex() not in a.hex()


def test_from_env_and_file(tmp_path: Path) -> None:
    assert key_from_env("K", {"K": HEX}).hex() == HEX
    secret = tmp_path / "key"
    secret.write_text(HEX + "\n")
    assert key_from_env("K", {"K_FILE": str(secret)}).hex() == HEX
    with pytest.raises(KeyConfigError, match="not both"):
        key_from_env("K", {"K": HEX, "K_FILE": str(secret)})
    with pytest.raises(KeyConfigError, match="exactly one"):
        key_from_env("K", {})
    with pytest.raises(KeyConfigError, match="cannot read"):
        key_from_env("K", {"K_FILE": str(tmp_path / "missing")})
    other = os.urandom(32).hex()
    assert [k.hex() for k in keys_from_env("K", {"K": f"{HEX},0x{other}"})] == [HEX, other]
    with pytest.raises(KeyConfigError, match="entry 1"):
        keys_from_env("K", {"K": f"{HEX},nothex"})


def test_keyring_from_env_includes_previous() -> None:
    old = os.urandom(32).hex()
    ring = KeyRing.from_env({"XMTP_DB_ENCRYPTION_KEY": HEX, "XMTP_DB_ENCRYPTION_KEY_PREVIOUS": old})
    assert ring.current.hex() == HEX
    assert ring.find(EncryptionKey.from_hex(old).key_id) is not None
    with pytest.raises(KeyConfigError):
        KeyRing.from_env({"XMTP_DB_ENCRYPTION_KEY": "abc"})
