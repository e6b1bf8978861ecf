"""messages.id becomes a keyed blind index of XMTP's message id, the id itself an encrypted column; the store's
own secrets (the index key) in `store_secrets`. Rows written before keep their clear id (message_id NULL).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_secrets",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
    )
    op.add_column("messages", sa.Column("message_id", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "message_id")
    op.drop_table("store_secrets")
