"""Engine and session plumbing, and running the store's Alembic migrations programmatically."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from xmtp_core.pg_url import asyncpg_url

_MIGRATIONS = Path(__file__).parent / "migrations"
# Several processes may start against one empty database; only one may run DDL at a time.
_MIGRATION_LOCK_KEY = 0x786D7470_73746F72  # "xmtpstor"


def make_engine(database_url: str, pool_size: int = 5) -> AsyncEngine:
    """An asyncpg engine for any Postgres URL form (`postgres://`, `postgresql://`, `postgresql+asyncpg://`):
    `pool_size` connections kept, as many more for a burst (a small pool stays small: many stores in one process)."""
    # Bound parameters stay out of error messages and logs: defence in depth for anything sensitive in them.
    return create_async_engine(
        asyncpg_url(database_url), pool_size=pool_size, max_overflow=pool_size, hide_parameters=True
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Repositories return dataclasses, so nothing depends on ORM expiry; keep it off.
    """An async session maker over the pool (no expiry on commit: repositories return dataclasses)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _run(connection: sa.Connection, revision: str, upgrade: bool) -> None:
    connection.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
    try:
        cfg = alembic_config(connection)
        if upgrade:
            command.upgrade(cfg, revision)
        else:
            command.downgrade(cfg, revision)
    finally:
        connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_KEY})


async def migrate(database: str | AsyncEngine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (default: newest). Idempotent and safe to run from many processes."""
    await _apply(database, revision, upgrade=True)


async def downgrade(database: str | AsyncEngine, revision: str = "base") -> None:
    """Take the schema down to `revision` (default: drop everything the store created)."""
    await _apply(database, revision, upgrade=False)


async def _apply(database: str | AsyncEngine, revision: str, upgrade: bool) -> None:
    engine = make_engine(database, pool_size=1) if isinstance(database, str) else database
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run, revision, upgrade)
            await conn.commit()
    finally:
        if isinstance(database, str):
            await engine.dispose()
