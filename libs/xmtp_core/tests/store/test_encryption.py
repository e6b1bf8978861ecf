"""Encryption at rest against real Postgres: values bound to their row and column, wrong keys refused."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from xmtp_core.store import (
    DecryptionError,
    EncryptionKey,
    GroupState,
    KeyRing,
    Store,
    StoredMessage,
)
from xmtp_core.store.schema import ENCRYPTED_COLUMNS


async def _copy(session: AsyncSession, sql_from: str, sql_to: str, **params: object) -> None:
    """Copy a stored ciphertext with plain SQL, as an attacker with database access could."""
    async with session.begin():
        blob = (await session.execute(sa.text(sql_from), params)).scalar_one()
        await session.execute(sa.text(sql_to), {**params, "blob": blob})


async def test_values_at_rest_are_ciphertext(
    store: Store, session: AsyncSession, key: EncryptionKey, fill: Callable[..., Any]
) -> None:
    filled = await fill(store, session)
    async with session.begin():
        for spec in ENCRYPTED_COLUMNS:
            for column in spec.columns:
                blobs = (await session.execute(sa.select(spec.table.c[column]))).scalars().all()
                assert blobs, f"{spec.table.name}.{column} is empty"
                secret = filled.secrets[f"{spec.table.name}.{column}"]
                for blob in blobs:
                    assert blob[1:9] == key.key_id
                    assert secret not in blob


async def test_message_copied_to_another_row_fails(store: Store, session: AsyncSession) -> None:
    gid = os.urandom(32)
    a = StoredMessage(os.urandom(32), gid, "alice", os.urandom(32), 1, "xmtp.org/text:1.0", b"for alice's row")
    b = StoredMessage(os.urandom(32), gid, "bob", os.urandom(32), 2, "xmtp.org/text:1.0", b"for bob's row")
    async with session.begin():
        await store.messages.insert(session, a)
        await store.messages.insert(session, b)
    await _copy(
        session,
        "SELECT content FROM messages WHERE sent_ns = :a",  # rows are keyed by a blind index: find them by time
        "UPDATE messages SET content = :blob WHERE sent_ns = :b",
        a=a.sent_ns,
        b=b.sent_ns,
    )
    async with session.begin():
        assert await store.messages.get(session, a.id) == a
        with pytest.raises(DecryptionError, match=r"messages\.content\[.*authentication failed"):
            await store.messages.get(session, b.id)


async def test_key_copied_to_another_column_fails(
    store: Store, session: AsyncSession, fill: Callable[..., Any]
) -> None:
    filled = await fill(store, session)
    await _copy(
        session,
        "SELECT init_private_key FROM key_packages WHERE ref = :ref",
        "UPDATE key_packages SET encryption_private_key = :blob WHERE ref = :ref",
        ref=filled.key_package.ref,
    )
    async with session.begin():
        with pytest.raises(DecryptionError, match=r"key_packages\.encryption_private_key"):
            await store.key_packages.load(session, filled.key_package.ref)


async def test_group_state_copied_to_another_epoch_fails(store: Store, session: AsyncSession) -> None:
    gid = os.urandom(32)
    async with session.begin():
        await store.group_states.save(session, GroupState(gid, 1, b"epoch one"))
        await store.group_states.save(session, GroupState(gid, 2, b"epoch two"))
    await _copy(
        session,
        "SELECT state FROM group_states WHERE group_id = :g AND epoch = 1",
        "UPDATE group_states SET state = :blob WHERE group_id = :g AND epoch = 2",
        g=gid,
    )
    async with session.begin():
        assert await store.group_states.load_epoch(session, gid, 1) == GroupState(gid, 1, b"epoch one")
        with pytest.raises(DecryptionError, match="authentication failed"):
            await store.group_states.load_current(session, gid)


async def test_secret_copied_across_tables_fails(store: Store, session: AsyncSession, fill: Callable[..., Any]) -> None:
    filled = await fill(store, session)
    await _copy(
        session,
        "SELECT private_signing_key FROM installations WHERE installation_key = :ik",
        "UPDATE intents SET payload = :blob WHERE id = :iid",
        ik=filled.installation.installation_key,
        iid=filled.intent_id,
    )
    async with session.begin():
        with pytest.raises(DecryptionError, match=r"intents\.payload"):
            await store.intents.get(session, filled.intent_id)


async def test_wrong_key_cannot_read_anything(
    store: Store, session: AsyncSession, migrated_url: str, fill: Callable[..., Any]
) -> None:
    filled = await fill(store, session)
    intruder = Store(store.db, KeyRing(EncryptionKey.generate()))
    async with intruder.session() as s, s.begin():
        loads = [
            intruder.installations.load(s, filled.installation.installation_key),
            intruder.key_packages.load(s, filled.key_package.ref),
            intruder.group_states.load_current(s, filled.group_state.group_id),
            intruder.intents.get(s, filled.intent_id),
            intruder.messages.get(s, filled.message.id),
        ]
        for load in loads:
            with pytest.raises(DecryptionError, match="unknown key id"):
                await load
    # The right key still reads everything.
    await filled.check_readable(store, session)
