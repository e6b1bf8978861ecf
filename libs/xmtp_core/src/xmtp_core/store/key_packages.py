"""Key packages this installation published, with their encrypted private init, leaf-encryption and
welcome-wrapper keys, lifetimes, whether a Welcome has consumed them, when the node accepted them and when a
Welcome we joined used them (the two that say whether a rotation is owed)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import now_ns, upsert
from xmtp_core.store.cipher import FieldCipher, FieldRef
from xmtp_core.store.schema import key_packages as t

_SECRET_COLUMNS = ("init_private_key", "encryption_private_key", "welcome_wrapper_private_key")


@dataclass(frozen=True)
class StoredKeyPackage:
    """A key package we published, with its private keys (hidden)."""

    ref: bytes
    installation_key: bytes
    key_package: bytes
    init_private_key: bytes
    encryption_private_key: bytes
    welcome_wrapper_private_key: bytes | None
    is_last_resort: bool
    created_ns: int
    expires_ns: int
    consumed_ns: int | None = None
    uploaded_ns: int | None = None
    welcome_used_ns: int | None = None

    def __repr__(self) -> str:
        return f"StoredKeyPackage(ref={self.ref.hex()}, last_resort={self.is_last_resort}, keys=<hidden>)"


class KeyPackages:
    """Repository of our key packages and their private keys (encrypted)."""

    def __init__(self, cipher: FieldCipher) -> None:
        self._cipher = cipher

    async def save(self, session: AsyncSession, kp: StoredKeyPackage) -> None:
        values: dict[str, object] = {
            "ref": kp.ref,
            "installation_key": kp.installation_key,
            "key_package": kp.key_package,
            "is_last_resort": kp.is_last_resort,
            "created_ns": kp.created_ns,
            "expires_ns": kp.expires_ns,
            "consumed_ns": kp.consumed_ns,
            "uploaded_ns": kp.uploaded_ns,
            "welcome_used_ns": kp.welcome_used_ns,
        }
        for column in _SECRET_COLUMNS:
            secret: bytes | None = getattr(kp, column)
            values[column] = (
                None if secret is None else self._cipher.encrypt(FieldRef(t.name, column, (kp.ref,)), secret)
            )
        await session.execute(upsert(t, values))

    async def load(self, session: AsyncSession, ref: bytes) -> StoredKeyPackage | None:
        row = (await session.execute(sa.select(t).where(t.c.ref == ref))).one_or_none()
        return None if row is None else self._from_row(row)

    async def consume(self, session: AsyncSession, ref: bytes, at_ns: int | None = None) -> StoredKeyPackage | None:
        """Load a key package for processing a Welcome and mark it used (last-resort ones stay reusable)."""
        row = (await session.execute(sa.select(t).where(t.c.ref == ref).with_for_update())).one_or_none()
        if row is None:
            return None
        if not row._mapping["is_last_resort"] and row._mapping["consumed_ns"] is None:
            await session.execute(sa.update(t).where(t.c.ref == ref).values(consumed_ns=at_ns or now_ns()))
            row = (await session.execute(sa.select(t).where(t.c.ref == ref))).one()
        return self._from_row(row)

    async def mark_uploaded(self, session: AsyncSession, ref: bytes, at_ns: int | None = None) -> None:
        """The node accepted it: from now on it is the one the node hands to whoever adds us."""
        stmt = sa.update(t).where(t.c.ref == ref, t.c.uploaded_ns.is_(None)).values(uploaded_ns=at_ns or now_ns())
        await session.execute(stmt)

    async def mark_welcome_used(self, session: AsyncSession, ref: bytes, at_ns: int | None = None) -> None:
        """A Welcome we joined used it (in the join's transaction): if it is the newest uploaded, a rotation is owed."""
        stmt = sa.update(t).where(t.c.ref == ref, t.c.welcome_used_ns.is_(None))
        await session.execute(stmt.values(welcome_used_ns=at_ns or now_ns()))

    async def newest_uploaded(
        self, session: AsyncSession, installation_key: bytes, at_ns: int | None = None
    ) -> tuple[int, int | None] | None:
        """(expires_ns, welcome_used_ns) of the usable key package the node took last, the one it hands out; no
        secrets read. By upload time, not creation: of two replicas rotating at once, the later upload wins."""
        row = (
            await session.execute(
                sa.select(t.c.expires_ns, t.c.welcome_used_ns)
                .where(
                    t.c.installation_key == installation_key,
                    t.c.consumed_ns.is_(None),
                    t.c.expires_ns > (at_ns or now_ns()),
                    t.c.uploaded_ns.is_not(None),
                )
                .order_by(t.c.uploaded_ns.desc())
                .limit(1)
            )
        ).one_or_none()
        return None if row is None else (int(row.expires_ns), row.welcome_used_ns)

    async def list_usable(
        self, session: AsyncSession, installation_key: bytes, at_ns: int | None = None
    ) -> list[StoredKeyPackage]:
        """Unconsumed, unexpired key packages of one installation, newest first."""
        now = at_ns or now_ns()
        rows = await session.execute(
            sa.select(t)
            .where(t.c.installation_key == installation_key, t.c.consumed_ns.is_(None), t.c.expires_ns > now)
            .order_by(t.c.created_ns.desc())
        )
        return [self._from_row(r) for r in rows]

    async def delete_expired(self, session: AsyncSession, at_ns: int | None = None) -> int:
        """Drop key packages past their expiry; their private keys can never be needed again."""
        result = await session.execute(sa.delete(t).where(t.c.expires_ns <= (at_ns or now_ns())))
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _from_row(self, row: sa.Row[tuple[object, ...]]) -> StoredKeyPackage:
        m = row._mapping
        secrets: dict[str, bytes | None] = {}
        for column in _SECRET_COLUMNS:
            blob = m[column]
            secrets[column] = (
                None if blob is None else self._cipher.decrypt(FieldRef(t.name, column, (m["ref"],)), blob)
            )
        init_key, enc_key = secrets["init_private_key"], secrets["encryption_private_key"]
        assert init_key is not None and enc_key is not None  # NOT NULL columns
        return StoredKeyPackage(
            ref=m["ref"],
            installation_key=m["installation_key"],
            key_package=m["key_package"],
            init_private_key=init_key,
            encryption_private_key=enc_key,
            welcome_wrapper_private_key=secrets["welcome_wrapper_private_key"],
            is_last_resort=m["is_last_resort"],
            created_ns=m["created_ns"],
            expires_ns=m["expires_ns"],
            uploaded_ns=m["uploaded_ns"],
            welcome_used_ns=m["welcome_used_ns"],
            consumed_ns=m["consumed_ns"],
        )
