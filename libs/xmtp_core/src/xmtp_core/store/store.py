"""`Store`: one object bundling the database connection pool (`db`, SQLAlchemy's AsyncEngine), the key ring and
every repository, for the crypto service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from xmtp_core.store.cipher import FieldCipher
from xmtp_core.store.conversations import Conversations
from xmtp_core.store.cursors import Cursors
from xmtp_core.store.db import make_engine, migrate, session_factory
from xmtp_core.store.envelopes import ProcessedEnvelopes
from xmtp_core.store.group_states import DEFAULT_MAX_PAST_EPOCHS, GroupStates
from xmtp_core.store.identity_cache import IdentityCache
from xmtp_core.store.installations import Installations
from xmtp_core.store.intents import Intents
from xmtp_core.store.key_packages import KeyPackages
from xmtp_core.store.keys import KeyRing
from xmtp_core.store.messages import Messages
from xmtp_core.store.outbox import Outbox
from xmtp_core.store.rejections import Rejections


class Store:
    """Repositories share one cipher; every method takes the session so callers decide transaction bounds."""

    def __init__(self, db: AsyncEngine, keys: KeyRing, *, max_past_epochs: int = DEFAULT_MAX_PAST_EPOCHS) -> None:
        self.db = db  # SQLAlchemy's engine: the pool of connections (not the XMTP conversation engine)
        self.cipher = FieldCipher(keys)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(db)
        self.installations = Installations(self.cipher)
        self.key_packages = KeyPackages(self.cipher)
        self.identity = IdentityCache()
        self.conversations = Conversations()
        self.group_states = GroupStates(self.cipher, max_past_epochs)
        self.cursors = Cursors()
        self.intents = Intents(self.cipher)
        self.messages = Messages(self.cipher)
        self.envelopes = ProcessedEnvelopes()
        self.rejections = Rejections()
        self.outbox = Outbox(self.cipher)

    @classmethod
    async def open(
        cls,
        database_url: str,
        keys: KeyRing,
        *,
        run_migrations: bool = True,
        max_past_epochs: int = DEFAULT_MAX_PAST_EPOCHS,
        pool_size: int = 5,
    ) -> Store:
        """``pool_size``: connections kept open (as many more may open for a burst); a process holding many stores
        (crypto with many agents, each its own database) keeps fewer each, or Postgres runs out."""
        engine = make_engine(database_url, pool_size=pool_size)
        if run_migrations:
            await migrate(engine)
        return cls(engine, keys, max_past_epochs=max_past_epochs)

    def session(self) -> AsyncSession:
        return self.sessions()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed when the block ends, rolled back if it raises."""
        async with self.sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.db.dispose()
