"""key_packages.uploaded_ns (when the node accepted it) and welcome_used_ns (when a Welcome we joined used it):
together they say whether a rotation is owed, so it survives a crash between the join and the upload. Rows
written before count as uploaded when created.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("key_packages", sa.Column("uploaded_ns", sa.BigInteger, nullable=True))
    op.add_column("key_packages", sa.Column("welcome_used_ns", sa.BigInteger, nullable=True))
    op.execute("UPDATE key_packages SET uploaded_ns = created_ns")


def downgrade() -> None:
    op.drop_column("key_packages", "welcome_used_ns")
    op.drop_column("key_packages", "uploaded_ns")
