"""Initial store schema: installation, key packages, identity cache, conversations, group states, cursors,
intents, messages and processed envelopes.

Columns marked "encrypted" hold `xmtp_core.store.cipher` ciphertexts bound to their table, column and row.

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

_TABLES = (
    "processed_envelopes",
    "messages",
    "intents",
    "cursors",
    "group_states",
    "conversation_members",
    "conversations",
    "identity_snapshots",
    "identity_cache",
    "key_packages",
    "installations",
)


def upgrade() -> None:
    _identity_tables()
    _conversation_tables()
    _pipeline_tables()


def _identity_tables() -> None:
    op.create_table(
        "installations",
        sa.Column("installation_key", sa.LargeBinary, primary_key=True),
        sa.Column("inbox_id", sa.Text, nullable=False),
        sa.Column("private_signing_key", sa.LargeBinary, nullable=False),  # encrypted
        sa.Column("credential", sa.LargeBinary, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "key_packages",
        sa.Column("ref", sa.LargeBinary, primary_key=True),
        sa.Column("installation_key", sa.LargeBinary, nullable=False),
        sa.Column("key_package", sa.LargeBinary, nullable=False),
        sa.Column("init_private_key", sa.LargeBinary, nullable=False),  # encrypted
        sa.Column("encryption_private_key", sa.LargeBinary, nullable=False),  # encrypted
        sa.Column("welcome_wrapper_private_key", sa.LargeBinary, nullable=True),  # encrypted
        sa.Column("is_last_resort", sa.Boolean, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("expires_ns", sa.BigInteger, nullable=False),
        sa.Column("consumed_ns", sa.BigInteger, nullable=True),
    )
    op.create_index("key_packages_installation", "key_packages", ["installation_key"])
    op.create_table(
        "identity_cache",
        sa.Column("inbox_id", sa.Text, primary_key=True),
        sa.Column("sequence_id", sa.BigInteger, primary_key=True),
        sa.Column("update", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "identity_snapshots",
        sa.Column("inbox_id", sa.Text, primary_key=True),
        sa.Column("sequence_id", sa.BigInteger, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
        sa.Column("verified_ns", sa.BigInteger, nullable=False),
    )


def _conversation_tables() -> None:
    op.create_table(
        "conversations",
        sa.Column("group_id", sa.LargeBinary, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("dm_peer_inbox_id", sa.Text, nullable=True),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.CheckConstraint("kind IN ('dm', 'group')", name="conversations_kind"),
        sa.CheckConstraint("state IN ('active', 'left')", name="conversations_state"),
        # A DM always names its peer; a group never does.
        sa.CheckConstraint("(kind = 'dm') = (dm_peer_inbox_id IS NOT NULL)", name="conversations_dm_peer"),
    )
    op.create_table(
        "conversation_members",
        sa.Column(
            "group_id",
            sa.LargeBinary,
            sa.ForeignKey("conversations.group_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("inbox_id", sa.Text, primary_key=True),
    )
    op.create_table(
        "group_states",
        sa.Column("group_id", sa.LargeBinary, primary_key=True),
        sa.Column("epoch", sa.BigInteger, primary_key=True),
        sa.Column("state", sa.LargeBinary, nullable=False),  # encrypted
        sa.Column("saved_ns", sa.BigInteger, nullable=False),
        sa.CheckConstraint("epoch >= 0", name="group_states_epoch"),
    )


def _pipeline_tables() -> None:
    op.create_table(
        "cursors",
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.CheckConstraint("last_id >= 0", name="cursors_last_id"),
    )
    op.create_table(
        "intents",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("group_id", sa.LargeBinary, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),  # encrypted
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("published_hash", sa.LargeBinary, nullable=True),
        sa.Column("published_id", sa.BigInteger, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("updated_ns", sa.BigInteger, nullable=False),
        sa.CheckConstraint(
            "state IN ('ToPublish', 'Published', 'Committed', 'Processed', 'Error')", name="intents_state"
        ),
        sa.CheckConstraint("(state = 'Error') = (error IS NOT NULL)", name="intents_error_reason"),
    )
    op.create_index("intents_state_id", "intents", ["state", "id"])
    op.create_index("intents_group_id", "intents", ["group_id", "id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.LargeBinary, primary_key=True),
        sa.Column("group_id", sa.LargeBinary, nullable=False),
        sa.Column("sender_inbox_id", sa.Text, nullable=False),
        sa.Column("sender_installation_key", sa.LargeBinary, nullable=False),
        sa.Column("sent_ns", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),  # encrypted
        sa.Column("delivery_status", sa.Text, nullable=False),
        sa.CheckConstraint(
            "delivery_status IN ('unpublished', 'published', 'failed')", name="messages_delivery_status"
        ),
    )
    op.create_index("messages_group_sent", "messages", ["group_id", "sent_ns"])
    op.create_table(
        "processed_envelopes",
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("envelope_id", sa.BigInteger, primary_key=True),
        sa.Column("envelope_hash", sa.LargeBinary, nullable=True),
        sa.Column("processed_ns", sa.BigInteger, nullable=False),
    )
    op.create_index("processed_envelopes_hash", "processed_envelopes", ["envelope_hash"])


def downgrade() -> None:
    for name in _TABLES:
        op.drop_table(name)
