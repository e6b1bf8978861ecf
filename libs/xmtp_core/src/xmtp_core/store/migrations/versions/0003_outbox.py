"""The outbox: events written in the transaction of the envelope that produced them, delivered afterwards.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=False), nullable=False, unique=True),
        sa.Column("conversation", sa.LargeBinary, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_ns", sa.BigInteger, nullable=False),
        sa.Column("delivered_ns", sa.BigInteger, nullable=True),
    )
    op.create_index("outbox_pending", "outbox", ["seq"], postgresql_where=sa.text("delivered_ns IS NULL"))


def downgrade() -> None:
    op.drop_index("outbox_pending", table_name="outbox")
    op.drop_table("outbox")
