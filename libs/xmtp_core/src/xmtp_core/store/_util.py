"""Small helpers shared by the repositories: the clock and upserts."""

from __future__ import annotations

import time
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import Insert, insert


def now_ns() -> int:
    return time.time_ns()


def upsert(table: sa.Table, values: Mapping[str, object]) -> Insert:
    """INSERT … ON CONFLICT (primary key) DO UPDATE every other column given."""
    stmt = insert(table).values(dict(values))
    keys = [c.name for c in table.primary_key.columns]
    updates = {name: stmt.excluded[name] for name in values if name not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=updates)
