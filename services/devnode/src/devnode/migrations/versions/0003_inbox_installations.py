"""Installation membership index and the inbox each key package names; backfilled by replaying stored logs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from devnode.migrations.backfill import credential_inbox_id_v1, installation_changes_v1

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


def upgrade() -> None:
    # One row per (installation, inbox) ever associated; revocation_sequence_id set once it is removed.
    op.create_table(
        "inbox_installations",
        sa.Column("installation_key", sa.LargeBinary, nullable=False),
        sa.Column("inbox_id", sa.Text, nullable=False),
        sa.Column("association_sequence_id", sa.BigInteger, nullable=False),
        sa.Column("revocation_sequence_id", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("installation_key", "inbox_id"),
    )
    op.add_column("key_packages", sa.Column("inbox_id", sa.Text, nullable=True))
    conn = op.get_bind()
    _backfill_key_package_inboxes(conn)
    _backfill_installations(conn)


def _backfill_key_package_inboxes(conn: sa.Connection) -> None:
    rows = conn.execute(sa.text("SELECT installation_key, credential_identity FROM key_packages")).all()
    for key, identity in rows:
        inbox_id = credential_inbox_id_v1(identity)
        if inbox_id is None:
            continue  # stays NULL: never served
        conn.execute(
            sa.text("UPDATE key_packages SET inbox_id = :inbox WHERE installation_key = :key"),
            {"inbox": inbox_id, "key": key},
        )


def _backfill_installations(conn: sa.Connection) -> None:
    """Replay each stored log, recording installations as they come and go; a log that does not verify
    (written before devnode verified updates) is skipped, so its key packages are only served while it is
    treated as having no members (see FetchKeyPackages)."""
    inboxes = conn.execute(sa.text("SELECT DISTINCT inbox_id FROM inbox_log")).scalars().all()
    for inbox_id in inboxes:
        rows = conn.execute(
            sa.text("SELECT sequence_id, identity_update FROM inbox_log WHERE inbox_id = :i ORDER BY sequence_id"),
            {"i": inbox_id},
        ).all()
        history = installation_changes_v1([(sequence_id, raw) for sequence_id, raw in rows])
        if history is None:
            log.warning("inbox %s: stored identity log does not verify; not indexed", inbox_id)
            continue
        conn.execute(
            sa.text(
                "INSERT INTO inbox_state (inbox_id, sequence_id, state) VALUES (:i, :s, :st) ON CONFLICT DO NOTHING"
            ),
            {"i": inbox_id, "s": history.final_sequence_id, "st": history.final_state},
        )
        for sequence_id, key, added in history.changes:
            conn.execute(_ADD if added else _REVOKE, {"k": key, "i": inbox_id, "s": sequence_id})


_ADD = sa.text(
    "INSERT INTO inbox_installations (installation_key, inbox_id, association_sequence_id) VALUES (:k, :i, :s)"
    " ON CONFLICT (installation_key, inbox_id) DO UPDATE SET revocation_sequence_id = NULL"
)
_REVOKE = sa.text(
    "UPDATE inbox_installations SET revocation_sequence_id = :s WHERE installation_key = :k AND inbox_id = :i"
)


def downgrade() -> None:
    op.drop_column("key_packages", "inbox_id")
    op.drop_table("inbox_installations")
