"""Alembic environment: always online, on the connection `xmtp_core.store.db.migrate` hands over."""

from __future__ import annotations

from alembic import context

VERSION_TABLE = "xmtp_store_alembic_version"

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("store migrations run through xmtp_core.store.migrate(), which supplies a connection")

# A table of our own so the store can share a database with another Alembic-managed schema.
context.configure(
    connection=connection, target_metadata=None, transaction_per_migration=True, version_table=VERSION_TABLE
)
with context.begin_transaction():
    context.run_migrations()
