"""Database plumbing: the async engine and running the Alembic migrations to head at start-up."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from xmtp_core.pg_url import asyncpg_url

_MIGRATIONS = Path(__file__).parent / "migrations"
# Several devnodes may start against one empty database; only one may run DDL at a time.
_MIGRATION_LOCK_KEY = 0x64657600


def make_engine(database_url: str, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(asyncpg_url(database_url), pool_size=pool_size, max_overflow=10, pool_pre_ping=False)


def _alembic_config(connection: sa.Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: sa.Connection) -> None:
    connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
    try:
        command.upgrade(_alembic_config(connection), "head")
    finally:
        connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY})


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    async with engine.connect() as conn:
        await conn.run_sync(_upgrade)
        await conn.commit()
