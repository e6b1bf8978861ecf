"""The runtime's in-memory groups (`GroupCache`) on a real devnode and Postgres: reused while they are the
stored state, never once another process of the same installation has moved the ratchet or the epoch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from xmtp_core.engine import EnvelopeRejected, MessageReceived
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.node import NodeClient
from xmtp_core.runtime import Runtime
from xmtp_core.store import EncryptionKey, KeyRing, Store


@pytest.fixture
def node(devnode_client: NodeClient) -> NodeClient:
    """The root conftest's node client, by the name these tests use."""
    return devnode_client


@pytest.fixture
async def new_store(new_database: Callable[[], Awaitable[str]]) -> AsyncIterator[Any]:
    """A fresh database per call; ``new_store(same=store)`` opens a second Store on ``store``'s database
    (another process of the same installation)."""
    stores: list[Store] = []
    urls: dict[int, tuple[str, KeyRing]] = {}

    async def make(same: Store | None = None) -> Store:
        if same is None:
            url, keys = await new_database(), KeyRing(EncryptionKey.generate())
        else:
            url, keys = urls[id(same)]
        store = await Store.open(url, keys)
        urls[id(store)] = (url, keys)
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.close()


async def _pair(node: NodeClient, new_store: Any) -> tuple[Runtime, Runtime, bytes]:
    alice = await Runtime.register(node, await new_store(), LocalWalletSigner.generate())
    bob = await Runtime.register(node, await new_store(), LocalWalletSigner.generate())
    dm = await alice.create_dm(bob.keys.inbox_id)
    await bob.sync_welcomes()
    await bob.sync_group(dm)
    return alice, bob, dm


def _texts(events: list[Any]) -> list[str]:
    return [e.content.value for e in events if isinstance(e, MessageReceived)]


async def test_a_cached_group_is_reused_between_sends(node: NodeClient, new_store: Any) -> None:
    alice, bob, dm = await _pair(node, new_store)
    await alice.send(dm, "one")
    misses = alice.groups.misses
    await alice.send(dm, "two")
    await alice.send(dm, "three")
    assert alice.groups.misses == misses and alice.groups.hits >= 4  # each send: its own transaction + echo
    assert _texts(await bob.sync_group(dm)) == ["one", "two", "three"]


async def test_another_process_moving_the_ratchet_invalidates_the_cached_group(
    node: NodeClient, new_store: Any
) -> None:
    alice, bob, dm = await _pair(node, new_store)
    await alice.send(dm, "from the first process")
    # The same installation in a second process: same database, its own memory.
    other = await Runtime.open(node, await new_store(same=alice.store))
    await other.send(dm, "from the second process")
    misses = alice.groups.misses
    # A stale in-memory group would reuse the second process's sending generation (same key and nonce).
    await alice.send(dm, "first process again")
    assert alice.groups.misses > misses
    events = await bob.sync_group(dm)
    assert [e for e in events if isinstance(e, EnvelopeRejected)] == []
    assert _texts(events) == ["from the first process", "from the second process", "first process again"]


async def test_another_process_committing_invalidates_the_cached_group(node: NodeClient, new_store: Any) -> None:
    alice, bob, dm = await _pair(node, new_store)
    await alice.send(dm, "before")
    other = await Runtime.open(node, await new_store(same=alice.store))
    await other.key_update(dm)
    await alice.send(dm, "after the other process's commit")
    assert (await alice.conversation(dm)).group_id == dm
    events = await bob.sync_group(dm)
    assert [e for e in events if isinstance(e, EnvelopeRejected)] == []
    assert _texts(events) == ["before", "after the other process's commit"]
