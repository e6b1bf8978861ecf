"""Alembic migrations for devnode's Postgres schema (run programmatically by `devnode.db.migrate`)."""
