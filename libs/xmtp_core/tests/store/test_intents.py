"""The intent state machine: every allowed move works, every other one is refused and changes nothing."""

from __future__ import annotations

import itertools
import os

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from xmtp_core.store import ALLOWED_TRANSITIONS, IllegalTransitionError, IntentState, NotFoundError, Store

S = IntentState
# How to reach each state from a fresh intent through allowed moves.
PATHS: dict[IntentState, list[IntentState]] = {
    S.TO_PUBLISH: [],
    S.PUBLISHED: [S.PUBLISHED],
    S.COMMITTED: [S.PUBLISHED, S.COMMITTED],
    S.PROCESSED: [S.PUBLISHED, S.COMMITTED, S.PROCESSED],
    S.ERROR: [S.ERROR],
}


def _reason(to: IntentState) -> str | None:
    return "boom" if to is S.ERROR else None


async def _intent_in(store: Store, session: AsyncSession, state: IntentState) -> int:
    intent = await store.intents.create(session, os.urandom(32), "send_message", b"payload")
    for step in PATHS[state]:
        await store.intents.transition(session, intent.id, step, error=_reason(step))
    return intent.id


async def test_happy_path_and_resume(store: Store, session: AsyncSession) -> None:
    gid = os.urandom(32)
    async with session.begin():
        a = await store.intents.create(session, gid, "send_message", b"hello")
        b = await store.intents.create(session, gid, "key_update", b"")
        assert a.state is S.TO_PUBLISH and a.attempts == 0
    async with session.begin():
        assert [i.id for i in await store.intents.list_by_state(session, S.TO_PUBLISH)] == [a.id, b.id]
        pub = await store.intents.transition(session, a.id, S.PUBLISHED, published_hash=b"h1", published_id=None)
        assert pub.attempts == 1 and pub.published_hash == b"h1"
        assert (await store.intents.find_published(session, gid, b"h1")) == pub
        # The node rejected it: back to ToPublish, the old envelope hash is void.
        retry = await store.intents.transition(session, a.id, S.TO_PUBLISH)
        assert retry.published_hash is None and retry.attempts == 1
        again = await store.intents.transition(session, a.id, S.PUBLISHED, published_hash=b"h2")
        assert again.attempts == 2
        done = await store.intents.transition(session, a.id, S.COMMITTED, published_id=77)
        assert done.published_id == 77 and done.published_hash == b"h2"
        final = await store.intents.transition(session, a.id, S.PROCESSED)
        assert final.payload == b"hello"
        failed = await store.intents.transition(session, b.id, S.ERROR, error="epoch too old")
        assert failed.error == "epoch too old"
    async with session.begin():
        assert await store.intents.list_by_state(session, [S.TO_PUBLISH, S.PUBLISHED]) == []
        assert [i.id for i in await store.intents.list_by_state(session, S.PROCESSED, group_id=gid)] == [a.id]
        assert await store.intents.get(session, a.id) == final


async def test_every_transition_checked(store: Store, session: AsyncSession) -> None:
    async with session.begin():
        for src, dst in itertools.product(S, S):
            intent_id = await _intent_in(store, session, src)
            if dst in ALLOWED_TRANSITIONS[src]:
                moved = await store.intents.transition(session, intent_id, dst, error=_reason(dst))
                assert moved.state is dst
                continue
            with pytest.raises(IllegalTransitionError, match=f"{src.value} → {dst.value}"):
                await store.intents.transition(session, intent_id, dst, error=_reason(dst))
            got = await store.intents.get(session, intent_id)
            assert got is not None and got.state is src


async def test_terminal_states_and_bad_input(store: Store, session: AsyncSession) -> None:
    assert ALLOWED_TRANSITIONS[S.PROCESSED] == frozenset() and ALLOWED_TRANSITIONS[S.ERROR] == frozenset()
    async with session.begin():
        intent_id = await _intent_in(store, session, S.TO_PUBLISH)
        with pytest.raises(ValueError, match="error reason"):
            await store.intents.transition(session, intent_id, S.ERROR)
        with pytest.raises(ValueError, match="error reason"):
            await store.intents.transition(session, intent_id, S.PUBLISHED, error="no")
        with pytest.raises(NotFoundError):
            await store.intents.transition(session, 10**12, S.PUBLISHED)
        with pytest.raises(ValueError):
            await store.intents.create(session, b"g", "", b"")


async def test_set_payload_replaces_unfinished_payloads_only(store: Store, session: AsyncSession) -> None:
    async with session.begin():
        intent = await store.intents.create(session, os.urandom(32), "key_update", b"built at epoch 3")
        await store.intents.transition(session, intent.id, S.PUBLISHED, published_hash=b"h")
        await store.intents.set_payload(session, intent.id, b"rebuilt at epoch 4")
        got = await store.intents.get(session, intent.id)
        assert got is not None and got.payload == b"rebuilt at epoch 4" and got.state is S.PUBLISHED
        await store.intents.transition(session, intent.id, S.ERROR, error="gave up")
        with pytest.raises(NotFoundError):
            await store.intents.set_payload(session, intent.id, b"too late")
        with pytest.raises(NotFoundError):
            await store.intents.set_payload(session, 10**12, b"nobody")
