"""Revision 0003 keeps doing what it did when it was written: on a database at 0002 holding identity logs
and key packages (a recorded fixture), the upgrade yields exactly the recorded rows, and the migration reads
no live library code that could change that silently."""

from __future__ import annotations

import ast
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from devnode.db import _alembic_config, make_engine, migrate
from sqlalchemy.ext.asyncio import AsyncEngine

FIXTURE = Path(__file__).parent / "fixtures" / "migration_0003.json"
MIGRATIONS = Path(__file__).parents[1] / "src" / "devnode" / "migrations"


def _to_0002(connection: sa.Connection) -> None:
    command.upgrade(_alembic_config(connection), "0002")


async def load_0002(engine: AsyncEngine, data: dict[str, Any]) -> None:
    """An empty database brought to revision 0002 and filled as a devnode of that revision left it."""
    async with engine.connect() as conn:
        await conn.run_sync(_to_0002)
        await conn.commit()
    async with engine.begin() as conn:
        now = time.time_ns()
        for inbox, update in data["identity_updates"]:
            await conn.execute(
                sa.text("INSERT INTO inbox_log (inbox_id, server_timestamp_ns, identity_update) VALUES (:i, :t, :u)"),
                {"i": inbox, "t": now, "u": bytes.fromhex(update)},
            )
        for key, identity in data["key_packages"]:
            await conn.execute(
                sa.text(
                    "INSERT INTO key_packages (installation_key, key_package, credential_identity, not_after,"
                    " created_ns, updated_ns) VALUES (:k, :d, :c, 0, 0, 0)"
                ),
                {"k": bytes.fromhex(key), "d": b"kp", "c": bytes.fromhex(identity)},
            )


async def rows_after_0003(engine: AsyncEngine) -> dict[str, Any]:
    """What 0003 wrote: the installation index and each key package's inbox, in a stable order."""
    async with engine.connect() as conn:
        members = (
            await conn.execute(
                sa.text(
                    "SELECT installation_key, inbox_id, association_sequence_id, revocation_sequence_id"
                    " FROM inbox_installations ORDER BY inbox_id, installation_key"
                )
            )
        ).all()
        packages = (
            await conn.execute(sa.text("SELECT installation_key, inbox_id FROM key_packages ORDER BY installation_key"))
        ).all()
        states = (await conn.execute(sa.text("SELECT inbox_id, sequence_id, state FROM inbox_state ORDER BY 1"))).all()
    return {
        "inbox_installations": [[k.hex(), i, a, r] for k, i, a, r in members],
        "key_packages": [[k.hex(), i] for k, i in packages],
        "inbox_state": [[i, s, hashlib.sha256(st).hexdigest()] for i, s, st in states],
    }


async def test_upgrade_from_0002_yields_the_recorded_rows(database_url: str) -> None:
    data = json.loads(FIXTURE.read_text())
    engine = make_engine(database_url, pool_size=2)
    try:
        await load_0002(engine, data)
        await migrate(engine)
        assert await rows_after_0003(engine) == data["expected"]
    finally:
        await engine.dispose()


def _library_imports(path: Path) -> set[str]:
    # Generated protobuf classes are the wire schema (fixed by XMTP) and may be used; logic may not.
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    return {m for m in imported if m.startswith("xmtp_core") and not m.startswith("xmtp_core.protos")}


def test_0003_imports_no_live_library_code() -> None:
    assert _library_imports(MIGRATIONS / "versions" / "0003_inbox_installations.py") == set()
    # Its versioned functions name their one live dependency: the identity state machine's verdict.
    assert _library_imports(MIGRATIONS / "backfill.py") == {"xmtp_core.identity"}
