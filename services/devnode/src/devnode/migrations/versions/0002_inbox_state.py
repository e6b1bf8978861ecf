"""Verified inbox state cache: the AssociationState snapshot after each inbox's latest identity update.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A missing row (databases from before this revision) only costs a full replay on the next publish.
    op.create_table(
        "inbox_state",
        sa.Column("inbox_id", sa.Text, primary_key=True),
        sa.Column("sequence_id", sa.BigInteger, nullable=False),
        sa.Column("state", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("inbox_state")
