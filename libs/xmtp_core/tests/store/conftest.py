"""Fixtures for store tests: a migrated fresh database, a random key and a `Store` on top of them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from xmtp_core.store import (
    EncryptionKey,
    GroupState,
    Installation,
    KeyRing,
    OutboxEvent,
    Store,
    StoredKeyPackage,
    StoredMessage,
    make_engine,
    migrate,
)
from xmtp_core.store.cipher import FieldRef
from xmtp_core.store.schema import ENCRYPTED_COLUMNS, store_secrets


@pytest.fixture
def key() -> EncryptionKey:
    return EncryptionKey.generate()


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    await migrate(database_url)
    return database_url


@pytest.fixture
async def store(migrated_url: str, key: EncryptionKey) -> AsyncIterator[Store]:
    s = Store(make_engine(migrated_url), KeyRing(key))
    yield s
    await s.close()


@pytest.fixture
async def session(store: Store) -> AsyncIterator[AsyncSession]:
    async with store.session() as s:
        yield s


@dataclass
class Filled:
    """One row through every encrypted column; `secrets` maps `table.column` to the plaintext written there."""

    installation: Installation
    key_package: StoredKeyPackage
    group_state: GroupState
    intent_id: int
    intent_payload: bytes
    message: StoredMessage
    event: OutboxEvent
    secrets: dict[str, bytes] = field(default_factory=dict)

    async def check_readable(self, store: Store, session: AsyncSession) -> None:
        """Every secret reads back unchanged through the repositories."""
        async with session.begin():
            assert await store.installations.load(session, self.installation.installation_key) == self.installation
            assert await store.key_packages.load(session, self.key_package.ref) == self.key_package
            gs = self.group_state
            assert await store.group_states.load_epoch(session, gs.group_id, gs.epoch) == gs
            intent = await store.intents.get(session, self.intent_id)
            assert intent is not None and intent.payload == self.intent_payload
            assert await store.messages.get(session, self.message.id) == self.message
            assert await store.outbox.claim(session) == [self.event]


def marker() -> bytes:
    """A random value that cannot appear in a dump by chance; half printable so text searches work too."""
    return b"canary-" + os.urandom(8).hex().encode() + os.urandom(16)


async def fill_everything(store: Store, session: AsyncSession) -> Filled:
    inst = Installation("inbox-canary", os.urandom(32), marker(), b"credential", created_ns=7)
    kp = StoredKeyPackage(
        ref=os.urandom(32),
        installation_key=inst.installation_key,
        key_package=b"public key package",
        init_private_key=marker(),
        encryption_private_key=marker(),
        welcome_wrapper_private_key=marker(),
        is_last_resort=True,
        created_ns=1,
        expires_ns=10**18,
    )
    gs = GroupState(os.urandom(32), 4, marker())
    payload = marker()
    msg = StoredMessage(os.urandom(32), gs.group_id, "inbox-peer", os.urandom(32), 5, "xmtp.org/text:1.0", marker())
    event = OutboxEvent(f"group:{gs.group_id.hex()}:1:0", gs.group_id, "message", marker())
    async with session.begin():
        await store.installations.save(session, inst)
        await store.key_packages.save(session, kp)
        await store.group_states.save(session, gs)
        intent = await store.intents.create(session, gs.group_id, "send_message", payload)
        await store.messages.insert(session, msg)
        await store.outbox.add(session, event)
        event = (await store.outbox.claim(session))[0]  # as read back: with its sequence number
    secrets = {
        "installations.private_signing_key": inst.private_signing_key,
        "key_packages.init_private_key": kp.init_private_key,
        "key_packages.encryption_private_key": kp.encryption_private_key,
        "key_packages.welcome_wrapper_private_key": kp.welcome_wrapper_private_key or b"",
        "group_states.state": gs.state,
        "intents.payload": payload,
        "messages.content": msg.content,
        "messages.message_id": msg.id,
        "outbox.payload": event.payload,
        "store_secrets.value": await _index_key(store, session),
    }
    # If a new encrypted column is added, this helper (and so the canary and rotation tests) must cover it.
    assert set(secrets) == {f"{spec.table.name}.{c}" for spec in ENCRYPTED_COLUMNS for c in spec.columns}
    return Filled(inst, kp, gs, intent.id, payload, msg, event, secrets)


async def _index_key(store: Store, session: AsyncSession) -> bytes:
    """The blind-index key the store made when the message went in: a secret like the others."""
    async with session.begin():
        row = (await session.execute(sa.select(store_secrets.c.name, store_secrets.c.value))).one()
    return store.cipher.decrypt(FieldRef("store_secrets", "value", (row.name,)), row.value)


@pytest.fixture
def fill() -> Callable[[Store, AsyncSession], Awaitable[Filled]]:
    return fill_everything
