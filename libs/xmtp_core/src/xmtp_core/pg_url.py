"""Postgres URLs in the two forms the code needs: SQLAlchemy's `postgresql+asyncpg://` and asyncpg's own
`postgresql://` (settings live with their users: `bus.settings`, `node.settings`, `store.keys`)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def asyncpg_url(url: str) -> str:
    """Turn any `postgres://` / `postgresql://` URL into the `postgresql+asyncpg://` form SQLAlchemy needs."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        return urlunsplit(("postgresql+asyncpg", *parts[1:]))
    raise ValueError(f"not a Postgres URL (scheme {parts.scheme!r})")


def plain_pg_url(url: str) -> str:
    """The libpq/asyncpg form (`postgresql://`) of a Postgres URL."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        return urlunsplit(("postgresql", *parts[1:]))
    raise ValueError(f"not a Postgres URL (scheme {parts.scheme!r})")
