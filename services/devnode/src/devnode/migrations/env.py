"""Alembic environment for devnode: always runs online on the connection `devnode.db.migrate` hands over."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("devnode migrations run through devnode.db.migrate(), which supplies a connection")

context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
