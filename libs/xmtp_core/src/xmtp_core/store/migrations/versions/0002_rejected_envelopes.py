"""Rejected envelopes: what the engine refused (topic, envelope id, reason code, detail), kept for operators.

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
    op.create_table(
        "rejected_envelopes",
        sa.Column("topic", sa.Text, primary_key=True),
        sa.Column("envelope_id", sa.BigInteger, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("rejected_ns", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rejected_envelopes")
