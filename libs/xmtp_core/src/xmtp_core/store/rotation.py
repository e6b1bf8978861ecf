"""Key rotation: re-encrypt every encrypted column under a new key (the CLI is `xmtp_core.store.rotate`).

A rotation runs in one transaction: either every value is under the new key afterwards, or nothing changed.
Values already under the new key are left alone, so re-running is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store.cipher import FieldCipher, FieldRef, encrypt_with
from xmtp_core.store.db import make_engine, session_factory
from xmtp_core.store.keys import EncryptionKey, KeyRing
from xmtp_core.store.schema import ENCRYPTED_COLUMNS, EncryptedColumns

_BATCH = 500


@dataclass
class RotationReport:
    """How many encrypted values a key rotation saw and re-encrypted."""

    values_seen: int = 0
    values_reencrypted: int = 0


async def rotate_keys(
    session: AsyncSession, old_keys: Sequence[EncryptionKey], new_key: EncryptionKey
) -> RotationReport:
    """Re-encrypt every encrypted value under `new_key`; values under a key not given fail with DecryptionError.

    Runs inside the session's transaction (rows are locked as they are visited); the caller commits.
    """
    cipher = FieldCipher(KeyRing(new_key, old_keys))
    report = RotationReport()
    for spec in ENCRYPTED_COLUMNS:
        await _rotate_table(session, spec, cipher, new_key, report)
    return report


async def _rotate_table(
    session: AsyncSession, spec: EncryptedColumns, cipher: FieldCipher, new_key: EncryptionKey, report: RotationReport
) -> None:
    table = spec.table
    pk_cols = [table.c[name] for name in spec.pk]
    last: tuple[object, ...] | None = None
    while True:
        # Keyset paging keeps memory flat however large the table is.
        stmt = sa.select(*pk_cols, *(table.c[c] for c in spec.columns)).order_by(*pk_cols).limit(_BATCH)
        if last is not None:
            stmt = stmt.where(sa.tuple_(*pk_cols) > sa.tuple_(*last))
        rows = (await session.execute(stmt.with_for_update())).all()
        for row in rows:
            await _rotate_row(session, spec, tuple(row[: len(pk_cols)]), row[len(pk_cols) :], cipher, new_key, report)
        if len(rows) < _BATCH:
            return
        last = tuple(rows[-1][: len(pk_cols)])


async def _rotate_row(
    session: AsyncSession,
    spec: EncryptedColumns,
    pk: tuple[object, ...],
    blobs: Sequence[bytes | None],
    cipher: FieldCipher,
    new_key: EncryptionKey,
    report: RotationReport,
) -> None:
    updates: dict[str, bytes] = {}
    for column, blob in zip(spec.columns, blobs, strict=True):
        if blob is None:
            continue
        report.values_seen += 1
        where = FieldRef(spec.table.name, column, pk)  # type: ignore[arg-type]
        if cipher.needs_rotation(where, blob):
            updates[column] = encrypt_with(new_key, where, cipher.decrypt(where, blob))
    if updates:
        cond = sa.and_(*(spec.table.c[name] == value for name, value in zip(spec.pk, pk, strict=True)))
        await session.execute(sa.update(spec.table).where(cond).values(updates))
        report.values_reencrypted += len(updates)


async def rotate_database(
    database_url: str, old_keys: Sequence[EncryptionKey], new_key: EncryptionKey
) -> RotationReport:
    """Rotate a whole database in one transaction."""
    engine = make_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as session, session.begin():
            return await rotate_keys(session, old_keys, new_key)
    finally:
        await engine.dispose()
