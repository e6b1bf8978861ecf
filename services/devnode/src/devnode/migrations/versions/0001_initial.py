"""Initial schema: group and welcome messages, key packages, identity inbox/address logs, commit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_messages",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("group_id", sa.LargeBinary, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("sender_hmac", sa.LargeBinary, nullable=False),
        sa.Column("should_push", sa.Boolean, nullable=False),
        sa.Column("is_commit", sa.Boolean, nullable=False),
        # sha256(group_id ‖ data): resending the same message is a silent no-op.
        sa.Column("message_hash", sa.LargeBinary, nullable=False, unique=True),
    )
    op.create_index("group_messages_group_id_id", "group_messages", ["group_id", "id"])

    op.create_table(
        "welcome_messages",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("installation_key", sa.LargeBinary, nullable=False),
        # 1 = WelcomeMessage.V1 (data is the wrapped Welcome), 2 = WelcomePointer (data is the pointer).
        sa.Column("message_type", sa.SmallInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("hpke_public_key", sa.LargeBinary, nullable=False),
        sa.Column("wrapper_algorithm", sa.Integer, nullable=False),
        sa.Column("welcome_metadata", sa.LargeBinary, nullable=False),
        sa.Column("message_hash", sa.LargeBinary, nullable=False, unique=True),
    )
    op.create_index("welcome_messages_installation_key_id", "welcome_messages", ["installation_key", "id"])

    op.create_table(
        "key_packages",
        sa.Column("installation_key", sa.LargeBinary, primary_key=True),
        sa.Column("key_package", sa.LargeBinary, nullable=False),
        sa.Column("credential_identity", sa.LargeBinary, nullable=False),
        sa.Column("not_after", sa.BigInteger, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("updated_ns", sa.BigInteger, nullable=False),
    )

    op.create_table(
        "inbox_log",
        sa.Column("sequence_id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("inbox_id", sa.Text, nullable=False),
        sa.Column("server_timestamp_ns", sa.BigInteger, nullable=False),
        sa.Column("identity_update", sa.LargeBinary, nullable=False),
    )
    op.create_index("inbox_log_inbox_id_sequence_id", "inbox_log", ["inbox_id", "sequence_id"])

    op.create_table(
        "address_log",
        sa.Column("identifier", sa.Text, nullable=False),
        sa.Column("identifier_kind", sa.SmallInteger, nullable=False),
        sa.Column("inbox_id", sa.Text, nullable=False),
        sa.Column("association_sequence_id", sa.BigInteger, nullable=False),
        sa.Column("revocation_sequence_id", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("identifier", "identifier_kind", "inbox_id"),
    )

    op.create_table(
        "commit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("group_id", sa.LargeBinary, nullable=False),
        sa.Column("serialized_entry", sa.LargeBinary, nullable=False),
        sa.Column("serialized_signature", sa.LargeBinary, nullable=False),
    )
    op.create_index("commit_log_group_id_id", "commit_log", ["group_id", "id"])


def downgrade() -> None:
    for table in ("commit_log", "address_log", "inbox_log", "key_packages", "welcome_messages", "group_messages"):
        op.drop_table(table)
