"""Keyed blind indexes: a column that must be looked up by a value that may not be stored in clear holds
HMAC-SHA256(index key, value) instead. The index key is random, made once per database and kept in
`store_secrets` encrypted under the key ring (so key rotation re-encrypts it and the index stays valid), and
never leaves this module."""

from __future__ import annotations

import hashlib
import hmac
import os

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store.cipher import FieldCipher, FieldRef
from xmtp_core.store.schema import store_secrets as t


class BlindIndex:
    """HMACs of one purpose (e.g. `messages.id`) under a key loaded, or made, on first use."""

    def __init__(self, cipher: FieldCipher, purpose: str) -> None:
        self._cipher = cipher
        self._purpose = purpose
        self._key: bytes | None = None

    def __repr__(self) -> str:
        return f"BlindIndex({self._purpose!r}, key=<hidden>)"

    async def of(self, session: AsyncSession, value: bytes) -> bytes:
        key = await self._load(session)
        return hmac.new(key, value, hashlib.sha256).digest()

    async def _load(self, session: AsyncSession) -> bytes:
        if self._key is not None:
            return self._key
        name = f"blind-index/{self._purpose}"
        where = FieldRef(t.name, "value", (name,))
        fresh = self._cipher.encrypt(where, os.urandom(32))
        stmt = insert(t).values(name=name, value=fresh).on_conflict_do_nothing().returning(t.c.name)
        made = (await session.execute(stmt)).first() is not None
        stored = (await session.execute(sa.select(t.c.value).where(t.c.name == name))).scalar_one()
        key = self._cipher.decrypt(where, stored)
        if not made:
            # Only a key read back from a committed row is kept: one made in this transaction may still roll back.
            self._key = key
        return key
