"""The store options the runtime's one-transaction paths use: an intent created already Published (found by
its envelope hash, then finished as usual, or by its echo in one statement) and a group-state save that skips
pruning (same epoch rewritten)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from xmtp_core.store import GroupState, IllegalTransitionError, IntentState, Store


async def test_an_intent_created_published_is_matched_by_its_hash(store: Store, session: AsyncSession) -> None:
    gid, digest = os.urandom(32), os.urandom(32)
    async with session.begin():
        created = await store.intents.create(session, gid, "send_message", b"built", published_hash=digest)
    assert (created.state, created.attempts, created.published_hash) == (IntentState.PUBLISHED, 1, digest)
    async with session.begin():
        found = await store.intents.find_published(session, gid, digest)
        assert found is not None and found.id == created.id and found.payload == b"built"
        done = await store.intents.transition(session, created.id, IntentState.PROCESSED, published_id=7)
    assert (done.state, done.published_id) == (IntentState.PROCESSED, 7)


async def test_save_without_pruning_keeps_old_epochs_until_a_pruning_save(store: Store, session: AsyncSession) -> None:
    gid = os.urandom(32)
    keep = store.group_states.max_past_epochs
    async with session.begin():
        for epoch in range(keep + 3):
            assert await store.group_states.save(session, GroupState(gid, epoch, b"s"), prune=False) == 0
        assert await store.group_states.epochs(session, gid) == list(range(keep + 3))
        await store.group_states.save(session, GroupState(gid, keep + 2, b"rewritten"), prune=False)
        assert await store.group_states.epochs(session, gid) == list(range(keep + 3))
        assert await store.group_states.save(session, GroupState(gid, keep + 3, b"next")) == 3
        assert await store.group_states.epochs(session, gid) == list(range(3, keep + 4))
        current = await store.group_states.load_current(session, gid)
    assert current is not None and (current.epoch, current.state) == (keep + 3, b"next")


async def test_an_echo_finishes_its_message_intent_in_one_statement(store: Store, session: AsyncSession) -> None:
    gid, digest = os.urandom(32), os.urandom(32)
    async with session.begin():
        created = await store.intents.create(session, gid, "send_message", b"built", published_hash=digest)
        commit = await store.intents.create(session, gid, "key_update", b"c", published_hash=b"commit-hash")
    async with session.begin():
        # Another kind, another group, or an intent no longer Published: nothing moves.
        assert await store.intents.finish_published(
            session, gid, b"commit-hash", "send_message", IntentState.PROCESSED, published_id=1
        ) is None  # fmt: skip
        assert await store.intents.finish_published(
            session, os.urandom(32), digest, "send_message", IntentState.PROCESSED, published_id=1
        ) is None  # fmt: skip
        done = await store.intents.finish_published(
            session, gid, digest, "send_message", IntentState.PROCESSED, published_id=7
        )
        assert done is not None and (done.id, done.state, done.published_id) == (created.id, IntentState.PROCESSED, 7)
        assert done.payload == b"built" and done.published_hash == digest and done.attempts == 1
        assert await store.intents.finish_published(
            session, gid, digest, "send_message", IntentState.PROCESSED, published_id=8
        ) is None  # fmt: skip
        assert (await store.intents.get(session, commit.id)).state is IntentState.PUBLISHED  # type: ignore[union-attr]
    with pytest.raises(IllegalTransitionError):
        await store.intents.finish_published(session, gid, digest, "send_message", IntentState.ERROR, published_id=1)
