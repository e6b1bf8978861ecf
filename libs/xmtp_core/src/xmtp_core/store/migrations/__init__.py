"""Alembic migrations for the state store (package data; run them with `xmtp_core.store.migrate`)."""
