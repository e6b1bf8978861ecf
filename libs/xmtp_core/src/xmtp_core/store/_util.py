"""Small helpers shared by the repositories: the clock, upserts and statements run on the driver's connection.

Statements on the hot path (each envelope, each send) are built once at import, with bind parameters, and run
with a dict of values: SQLAlchemy then neither rebuilds nor re-keys them per call (building and cache-keying a
statement cost more CPU than its round trip; `bench/README.md`, e2e section)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from asyncpg import Record  # type: ignore[import-untyped]
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler


def now_ns() -> int:
    return time.time_ns()


def upsert_statement(table: sa.Table, columns: Sequence[str]) -> Insert:
    """INSERT … ON CONFLICT (primary key) DO UPDATE the other ``columns``, run with a dict of ``columns``' values."""
    stmt = insert(table)
    keys = [c.name for c in table.primary_key.columns]
    updates = {name: stmt.excluded[name] for name in columns if name not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=updates)


def upsert(table: sa.Table, values: Mapping[str, object]) -> Insert:
    """INSERT … ON CONFLICT (primary key) DO UPDATE every other column given (`upsert_statement` with its values)."""
    return upsert_statement(table, list(values)).values(dict(values))


class Columns(Protocol):
    """A result row by column name: SQLAlchemy's ``row._mapping`` or an asyncpg record."""

    def __getitem__(self, key: str, /) -> Any: ...


# ---- statements run on the driver's connection -------------------------------------------------------------

_DIALECT = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]
_DRIVER = "xmtp_core.store.driver"  # session.info key: (the session's transaction, its asyncpg connection)


class Prepared:
    """A statement compiled once for asyncpg and run on the session's own asyncpg connection, inside the
    session's transaction, past SQLAlchemy's execution and result layers (on the hot path those cost several
    times the round trip: `bench/README.md`, e2e section). Rows come back as asyncpg records (by name or
    position). Only for statements of plain columns (bytes, text, integers): no type processing is applied.

    ``keys`` names the values an INSERT is run with (its columns), as `Session.execute` would infer them from
    the dict; IN-lists are written as ``= ANY(:param)`` with an ARRAY-typed bind parameter."""

    def __init__(self, statement: sa.ClauseElement, keys: Sequence[str] | None = None) -> None:
        compiled = statement.compile(dialect=_DIALECT, column_keys=list(keys) if keys is not None else None)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self._names = tuple(compiled.positiontup or ())
        # Values fixed in the statement itself (literals SQLAlchemy binds, e.g. ``== -1``).
        self._constants = {n: b.value for n, b in compiled.binds.items() if not b.required and n in self._names}

    def _args(self, values: Mapping[str, object]) -> list[object]:
        return [values[n] if n in values else self._constants[n] for n in self._names]

    async def fetch(self, session: AsyncSession, values: Mapping[str, object]) -> list[Record]:
        conn = await driver_connection(session)
        return list(await conn.fetch(self.sql, *self._args(values)))

    async def fetchrow(self, session: AsyncSession, values: Mapping[str, object]) -> Record | None:
        conn = await driver_connection(session)
        row: Record | None = await conn.fetchrow(self.sql, *self._args(values))
        return row

    async def execute(self, session: AsyncSession, values: Mapping[str, object]) -> int:
        """Run it; the number of rows it touched (from the command tag)."""
        conn = await driver_connection(session)
        tag: str = await conn.execute(self.sql, *self._args(values))
        last = tag.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under ``session``'s current transaction, with that transaction begun on it
    (SQLAlchemy's asyncpg adapter sends BEGIN lazily, before its own first statement)."""
    if not session.in_transaction():
        raise RuntimeError("Prepared statements run inside the caller's transaction")
    txn = session.sync_session.get_transaction()
    cached = session.info.get(_DRIVER)
    if cached is not None and cached[0] is txn:
        adapted = cached[1]
    else:
        fairy = await (await session.connection()).get_raw_connection()
        adapted = fairy.dbapi_connection
        session.info[_DRIVER] = (txn, adapted)
    if adapted._transaction is None:  # pinned SQLAlchemy 2.1 asyncpg adapter: checked by tests/store
        await adapted._start_transaction()
    return adapted._connection
