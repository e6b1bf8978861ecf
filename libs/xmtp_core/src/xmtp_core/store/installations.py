"""The local installation: inbox id, installation (signature) public key, its encrypted private key, credential."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import now_ns, upsert
from xmtp_core.store.cipher import FieldCipher, FieldRef
from xmtp_core.store.schema import installations as t


@dataclass(frozen=True)
class Installation:
    """This store's installation: inbox id, installation key, its private signing key (hidden) and credential."""

    inbox_id: str
    installation_key: bytes
    private_signing_key: bytes
    credential: bytes
    created_ns: int = 0

    def __repr__(self) -> str:
        return (
            f"Installation(inbox_id={self.inbox_id!r}, installation_key={self.installation_key.hex()}, "
            "private_signing_key=<hidden>)"
        )


def _ref(installation_key: bytes) -> FieldRef:
    return FieldRef(t.name, "private_signing_key", (installation_key,))


class Installations:
    """Repository of the (one) local installation."""

    def __init__(self, cipher: FieldCipher) -> None:
        self._cipher = cipher

    async def save(self, session: AsyncSession, inst: Installation) -> None:
        """Insert or replace the installation keyed by its public key."""
        values = {
            "installation_key": inst.installation_key,
            "inbox_id": inst.inbox_id,
            "private_signing_key": self._cipher.encrypt(_ref(inst.installation_key), inst.private_signing_key),
            "credential": inst.credential,
            "created_ns": inst.created_ns or now_ns(),
        }
        await session.execute(upsert(t, values))

    async def load(self, session: AsyncSession, installation_key: bytes) -> Installation | None:
        row = (await session.execute(sa.select(t).where(t.c.installation_key == installation_key))).one_or_none()
        return None if row is None else self._from_row(row)

    async def load_only(self, session: AsyncSession) -> Installation | None:
        """The single installation of this store (None if none yet); several rows is a configuration error."""
        rows = (await session.execute(sa.select(t).limit(2))).all()
        if len(rows) > 1:
            raise LookupError("the store holds more than one installation; load it by installation key")
        return self._from_row(rows[0]) if rows else None

    def _from_row(self, row: sa.Row[tuple[object, ...]]) -> Installation:
        m = row._mapping
        return Installation(
            inbox_id=m["inbox_id"],
            installation_key=m["installation_key"],
            private_signing_key=self._cipher.decrypt(_ref(m["installation_key"]), m["private_signing_key"]),
            credential=m["credential"],
            created_ns=m["created_ns"],
        )
