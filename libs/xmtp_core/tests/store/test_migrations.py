"""Migrations on an empty database: every table appears, re-running is a no-op, down and up again work,
and the migrated schema matches the Core tables the repositories query."""

from __future__ import annotations

import asyncpg
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from xmtp_core.store import downgrade, make_engine, migrate
from xmtp_core.store.schema import metadata

EXPECTED = {
    "rejected_envelopes",
    "installations",
    "key_packages",
    "identity_cache",
    "identity_snapshots",
    "conversations",
    "conversation_members",
    "group_states",
    "cursors",
    "intents",
    "messages",
    "processed_envelopes",
    "outbox",
    "store_secrets",
}


async def _tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {r["tablename"] for r in rows}


async def test_up_on_empty_database_is_idempotent(database_url: str) -> None:
    assert await _tables(database_url) == set()
    await migrate(database_url)
    assert await _tables(database_url) == EXPECTED | {"xmtp_store_alembic_version"}
    await migrate(database_url)  # second run: nothing to do, nothing fails
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT version_num FROM xmtp_store_alembic_version") == "0005"
    finally:
        await conn.close()


async def test_down_then_up_again(database_url: str) -> None:
    await migrate(database_url)
    await downgrade(database_url)
    assert await _tables(database_url) == {"xmtp_store_alembic_version"}
    await migrate(database_url)
    assert await _tables(database_url) >= EXPECTED


async def test_migrated_schema_matches_core_tables(database_url: str) -> None:
    await migrate(database_url)
    engine = make_engine(database_url)

    def diff(conn: sa.Connection) -> list[object]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return [d for d in compare_metadata(ctx, metadata) if "alembic_version" not in repr(d)]

    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


async def test_check_constraints_guard_enums(database_url: str) -> None:
    await migrate(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        for sql in (
            "INSERT INTO conversations VALUES ('\\x01', 'channel', NULL, 1, 'active')",
            "INSERT INTO conversations VALUES ('\\x01', 'dm', NULL, 1, 'active')",
            "INSERT INTO conversations VALUES ('\\x01', 'group', 'peer', 1, 'active')",
            "INSERT INTO cursors VALUES ('t', -1)",
        ):
            try:
                await conn.execute(sql)
            except asyncpg.CheckViolationError:
                continue
            raise AssertionError(f"accepted: {sql}")
    finally:
        await conn.close()
