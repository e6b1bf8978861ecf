"""Key rotation: everything re-encrypted under the new key, the old key no longer needed, all or nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from xmtp_core.store import (
    DecryptionError,
    EncryptionKey,
    KeyRing,
    Store,
    StoredMessage,
    rotate_keys,
)
from xmtp_core.store import rotation as rotation_module
from xmtp_core.store.schema import ENCRYPTED_COLUMNS

N_SECRETS = sum(len(spec.columns) for spec in ENCRYPTED_COLUMNS)


async def _key_ids_at_rest(session: AsyncSession) -> set[bytes]:
    ids: set[bytes] = set()
    async with session.begin():
        for spec in ENCRYPTED_COLUMNS:
            for column in spec.columns:
                for blob in (await session.execute(sa.select(spec.table.c[column]))).scalars():
                    if blob is not None:
                        ids.add(bytes(blob[1:9]))
    return ids


async def test_rotation_reencrypts_everything(
    store: Store, session: AsyncSession, key: EncryptionKey, fill: Callable[..., Any]
) -> None:
    filled = await fill(store, session)
    new = EncryptionKey.generate()
    async with session.begin():
        report = await rotate_keys(session, [key], new)
    assert (report.values_seen, report.values_reencrypted) == (N_SECRETS, N_SECRETS)
    assert await _key_ids_at_rest(session) == {new.key_id}

    only_new = Store(store.db, KeyRing(new))
    async with only_new.session() as s:
        await filled.check_readable(only_new, s)
    only_old = Store(store.db, KeyRing(key))
    async with only_old.session() as s, s.begin():
        with pytest.raises(DecryptionError, match="unknown key id"):
            await only_old.messages.get(s, filled.message.id)

    # Running it again finds nothing left to do.
    async with session.begin():
        again = await rotate_keys(session, [key], new)
    assert (again.values_seen, again.values_reencrypted) == (N_SECRETS, 0)


async def test_rotation_pages_through_large_tables(
    store: Store, session: AsyncSession, key: EncryptionKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rotation_module, "_BATCH", 2)
    gid = os.urandom(32)
    msgs = [StoredMessage(os.urandom(32), gid, "a", b"i", n, "t", os.urandom(9)) for n in range(7)]
    async with session.begin():
        for m in msgs:
            await store.messages.insert(session, m)
    new = EncryptionKey.generate()
    async with session.begin():
        report = await rotate_keys(session, [key], new)
    assert report.values_reencrypted == 7 * 2 + 1  # content and message id of each, and the index key
    rotated = Store(store.db, KeyRing(new))
    async with rotated.session() as s, s.begin():
        got = await rotated.messages.list_for_group(s, gid)
    assert got == msgs


async def test_rotation_missing_old_key_changes_nothing(
    store: Store, session: AsyncSession, key: EncryptionKey, fill: Callable[..., Any]
) -> None:
    filled = await fill(store, session)
    new = EncryptionKey.generate()
    with pytest.raises(DecryptionError, match="unknown key id"):
        async with session.begin():
            await rotate_keys(session, [EncryptionKey.generate()], new)
    assert await _key_ids_at_rest(session) == {key.key_id}
    await filled.check_readable(store, session)


def _cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("XMTP_DB_ENCRYPTION_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "xmtp_core.store.rotate"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_cli_rotates_from_env_without_printing_keys(
    store: Store, session: AsyncSession, key: EncryptionKey, migrated_url: str, fill: Callable[..., Any], tmp_path: Any
) -> None:
    filled = await fill(store, session)
    new = EncryptionKey.generate()
    secret_file = tmp_path / "new.key"
    secret_file.write_text(new.hex() + "\n")
    result = await asyncio.to_thread(
        _cli,
        {
            "DATABASE_URL": migrated_url,
            "XMTP_DB_ENCRYPTION_KEY_OLD": "0x" + key.hex(),
            "XMTP_DB_ENCRYPTION_KEY_NEW_FILE": str(secret_file),
        },
    )
    assert result.returncode == 0, result.stderr
    assert f"{N_SECRETS} of {N_SECRETS} values re-encrypted" in result.stdout
    for output in (result.stdout, result.stderr):
        assert key.hex() not in output and new.hex() not in output
    assert await _key_ids_at_rest(session) == {new.key_id}
    rotated = Store(store.db, KeyRing(new))
    async with rotated.session() as s:
        await filled.check_readable(rotated, s)


def test_cli_rejects_bad_keys_clearly(tmp_path: Any) -> None:
    bad = "ab" * 31  # 62 hex characters
    result = _cli(
        {
            "DATABASE_URL": "postgresql://127.0.0.1:1/none",
            "XMTP_DB_ENCRYPTION_KEY_OLD": bad,
            "XMTP_DB_ENCRYPTION_KEY_NEW": os.urandom(32).hex(),
        }
    )
    assert result.returncode == 2
    assert "XMTP_DB_ENCRYPTION_KEY_OLD entry 0" in result.stderr and "64 hex characters" in result.stderr
    assert bad not in result.stderr
    missing = _cli({"DATABASE_URL": "postgresql://127.0.0.1:1/none", "XMTP_DB_ENCRYPTION_KEY_NEW": bad + "cd"})
    assert missing.returncode == 2 and "XMTP_DB_ENCRYPTION_KEY_OLD" in missing.stderr


def test_cli_reports_unreachable_database() -> None:
    old, new = os.urandom(32).hex(), os.urandom(32).hex()
    result = _cli(
        {
            "DATABASE_URL": "postgresql://127.0.0.1:1/none",
            "XMTP_DB_ENCRYPTION_KEY_OLD": old,
            "XMTP_DB_ENCRYPTION_KEY_NEW": new,
        }
    )
    assert result.returncode == 1
    assert "database unchanged" in result.stderr and "Traceback" not in result.stderr
    assert old not in result.stderr + result.stdout and new not in result.stderr + result.stdout
