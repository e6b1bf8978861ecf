"""SQLAlchemy Core table objects for querying devnode's tables (the DDL itself lives in the migrations)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

group_messages = sa.Table(
    "group_messages",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("group_id", sa.LargeBinary, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("sender_hmac", sa.LargeBinary, nullable=False),
    sa.Column("should_push", sa.Boolean, nullable=False),
    sa.Column("is_commit", sa.Boolean, nullable=False),
    sa.Column("message_hash", sa.LargeBinary, nullable=False, unique=True),
)

welcome_messages = sa.Table(
    "welcome_messages",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("installation_key", sa.LargeBinary, nullable=False),
    sa.Column("message_type", sa.SmallInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("hpke_public_key", sa.LargeBinary, nullable=False),
    sa.Column("wrapper_algorithm", sa.Integer, nullable=False),
    sa.Column("welcome_metadata", sa.LargeBinary, nullable=False),
    sa.Column("message_hash", sa.LargeBinary, nullable=False, unique=True),
)

key_packages = sa.Table(
    "key_packages",
    metadata,
    sa.Column("installation_key", sa.LargeBinary, primary_key=True),
    sa.Column("key_package", sa.LargeBinary, nullable=False),
    sa.Column("credential_identity", sa.LargeBinary, nullable=False),
    sa.Column("not_after", sa.BigInteger, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
    sa.Column("inbox_id", sa.Text, nullable=True),
)

inbox_log = sa.Table(
    "inbox_log",
    metadata,
    sa.Column("sequence_id", sa.BigInteger, primary_key=True),
    sa.Column("inbox_id", sa.Text, nullable=False),
    sa.Column("server_timestamp_ns", sa.BigInteger, nullable=False),
    sa.Column("identity_update", sa.LargeBinary, nullable=False),
)

address_log = sa.Table(
    "address_log",
    metadata,
    sa.Column("identifier", sa.Text, primary_key=True),
    sa.Column("identifier_kind", sa.SmallInteger, primary_key=True),
    sa.Column("inbox_id", sa.Text, primary_key=True),
    sa.Column("association_sequence_id", sa.BigInteger, nullable=False),
    sa.Column("revocation_sequence_id", sa.BigInteger, nullable=True),
)

inbox_state = sa.Table(
    "inbox_state",
    metadata,
    sa.Column("inbox_id", sa.Text, primary_key=True),
    sa.Column("sequence_id", sa.BigInteger, nullable=False),
    sa.Column("state", sa.LargeBinary, nullable=False),
)

inbox_installations = sa.Table(
    "inbox_installations",
    metadata,
    sa.Column("installation_key", sa.LargeBinary, primary_key=True),
    sa.Column("inbox_id", sa.Text, primary_key=True),
    sa.Column("association_sequence_id", sa.BigInteger, nullable=False),
    sa.Column("revocation_sequence_id", sa.BigInteger, nullable=True),
)

commit_log = sa.Table(
    "commit_log",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("group_id", sa.LargeBinary, nullable=False),
    sa.Column("serialized_entry", sa.LargeBinary, nullable=False),
    sa.Column("serialized_signature", sa.LargeBinary, nullable=False),
)
