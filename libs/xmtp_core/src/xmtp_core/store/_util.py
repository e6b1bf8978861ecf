"""Small helpers shared by the repositories: the clock and upserts.

Statements on the hot path (each envelope, each send) are built once at import, with bind parameters, and run
with a dict of values: SQLAlchemy then neither rebuilds nor re-keys them per call (building and cache-keying a
statement cost more CPU than its round trip; `bench/README.md`, e2e section)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import Insert, insert


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
