"""Round trips through every repository against real Postgres, plus their edge rules."""

from __future__ import annotations

import os

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from xmtp_core.store import (
    CachedUpdate,
    Conversation,
    ConversationKind,
    ConversationState,
    DeliveryStatus,
    GroupState,
    IdentitySnapshot,
    Installation,
    NotFoundError,
    Store,
    StoredKeyPackage,
    StoredMessage,
)


def _kp(installation_key: bytes, *, last_resort: bool = False, expires_ns: int = 10**18) -> StoredKeyPackage:
    return StoredKeyPackage(
        ref=os.urandom(32),
        installation_key=installation_key,
        key_package=os.urandom(300),
        init_private_key=os.urandom(32),
        encryption_private_key=os.urandom(32),
        welcome_wrapper_private_key=os.urandom(2400),
        is_last_resort=last_resort,
        created_ns=1_000,
        expires_ns=expires_ns,
    )


async def test_installation_round_trip(store: Store, session: AsyncSession) -> None:
    inst = Installation("inbox-1", os.urandom(32), os.urandom(32), os.urandom(20), created_ns=5)
    async with session.begin():
        assert await store.installations.load_only(session) is None
        await store.installations.save(session, inst)
    async with session.begin():
        assert await store.installations.load(session, inst.installation_key) == inst
        assert await store.installations.load_only(session) == inst
        assert await store.installations.load(session, os.urandom(32)) is None
    assert inst.private_signing_key.hex() not in repr(inst)


async def test_key_packages_round_trip_consume_and_expiry(store: Store, session: AsyncSession) -> None:
    ikey = os.urandom(32)
    normal, last, expired = _kp(ikey), _kp(ikey, last_resort=True), _kp(ikey, expires_ns=2_000)
    no_wrapper = StoredKeyPackage(**{**_kp(ikey).__dict__, "welcome_wrapper_private_key": None})
    async with session.begin():
        for kp in (normal, last, expired, no_wrapper):
            await store.key_packages.save(session, kp)
    async with session.begin():
        assert await store.key_packages.load(session, normal.ref) == normal
        assert await store.key_packages.load(session, no_wrapper.ref) == no_wrapper
        usable = {k.ref for k in await store.key_packages.list_usable(session, ikey, at_ns=3_000)}
        assert usable == {normal.ref, last.ref, no_wrapper.ref}
        consumed = await store.key_packages.consume(session, normal.ref, at_ns=4_000)
        assert consumed is not None and consumed.consumed_ns == 4_000
        assert consumed.init_private_key == normal.init_private_key
        reused = await store.key_packages.consume(session, last.ref, at_ns=4_000)
        assert reused is not None and reused.consumed_ns is None  # last resort stays usable
        assert await store.key_packages.consume(session, os.urandom(32)) is None
        usable = {k.ref for k in await store.key_packages.list_usable(session, ikey, at_ns=5_000)}
        assert usable == {last.ref, no_wrapper.ref}
        assert await store.key_packages.delete_expired(session, at_ns=3_000) == 1
        assert await store.key_packages.load(session, expired.ref) is None


async def test_the_newest_uploaded_key_package_is_the_last_one_the_node_took(
    store: Store, session: AsyncSession
) -> None:
    ikey = os.urandom(32)
    first, second, never = _kp(ikey, last_resort=True), _kp(ikey, last_resort=True), _kp(ikey, last_resort=True)
    async with session.begin():
        assert await store.key_packages.newest_uploaded(session, ikey, at_ns=3_000) is None
        for kp in (first, second, never):  # created in this order; `never` is stored but was never uploaded
            await store.key_packages.save(session, kp)
        # Two replicas rotating at once: `second` was created later but the node took `first` last.
        await store.key_packages.mark_uploaded(session, second.ref, at_ns=4_000)
        await store.key_packages.mark_uploaded(session, first.ref, at_ns=5_000)
        assert await store.key_packages.newest_uploaded(session, ikey, at_ns=6_000) == (first.expires_ns, None)
        await store.key_packages.mark_welcome_used(session, first.ref, at_ns=7_000)
        await store.key_packages.mark_welcome_used(session, first.ref, at_ns=8_000)  # the first use stays
        assert await store.key_packages.newest_uploaded(session, ikey, at_ns=9_000) == (first.expires_ns, 7_000)
        loaded = await store.key_packages.load(session, first.ref)
        assert loaded is not None and (loaded.uploaded_ns, loaded.welcome_used_ns) == (5_000, 7_000)


async def test_identity_cache(store: Store, session: AsyncSession) -> None:
    ups = [CachedUpdate("inbox", i, os.urandom(50)) for i in (3, 1, 7)]
    async with session.begin():
        await store.identity.add_updates(session, ups)
        # Re-adding a known sequence id with other bytes does not overwrite the cached update.
        await store.identity.add_updates(session, [CachedUpdate("inbox", 3, b"changed")])
        await store.identity.add_updates(session, [CachedUpdate("other", 2, b"x")])
    async with session.begin():
        got = await store.identity.updates(session, "inbox")
        assert [u.sequence_id for u in got] == [1, 3, 7]
        assert got[1] == ups[0]
        assert [u.sequence_id for u in await store.identity.updates(session, "inbox", after_sequence_id=3)] == [7]
        assert await store.identity.latest_sequence_id(session, "inbox") == 7
        assert await store.identity.latest_sequence_id(session, "nobody") == 0
        assert await store.identity.save_snapshot(session, IdentitySnapshot("inbox", 7, b"state7", 1))
        assert not await store.identity.save_snapshot(session, IdentitySnapshot("inbox", 3, b"state3", 2))
        assert await store.identity.snapshot(session, "inbox") == IdentitySnapshot("inbox", 7, b"state7", 1)
        assert await store.identity.save_snapshot(session, IdentitySnapshot("inbox", 9, b"state9", 3))
        snap = await store.identity.snapshot(session, "inbox")
        assert snap is not None and snap.sequence_id == 9
        assert await store.identity.snapshot(session, "nobody") is None


async def test_conversations_and_members(store: Store, session: AsyncSession) -> None:
    dm = Conversation(os.urandom(16), ConversationKind.DM, 10, dm_peer_inbox_id="peer")
    group = Conversation(os.urandom(16), ConversationKind.GROUP, 20)
    async with session.begin():
        assert await store.conversations.save(session, dm)
        assert await store.conversations.save(session, group)
        assert not await store.conversations.save(session, dm)
        await store.conversations.set_members(session, group.group_id, ["b", "a", "b"])
    async with session.begin():
        assert await store.conversations.get(session, dm.group_id) == dm
        assert await store.conversations.find_dm(session, "peer") == dm
        assert await store.conversations.find_dm(session, "stranger") is None
        assert await store.conversations.members(session, group.group_id) == ["a", "b"]
        await store.conversations.set_members(session, group.group_id, {"c"})
        assert await store.conversations.members(session, group.group_id) == ["c"]
        await store.conversations.set_state(session, dm.group_id, ConversationState.LEFT)
        assert await store.conversations.list_by_state(session) == [group]
        assert len(await store.conversations.list_by_state(session, None)) == 2
        assert await store.conversations.find_dm(session, "peer") is None
        with pytest.raises(NotFoundError):
            await store.conversations.set_state(session, os.urandom(16), ConversationState.LEFT)
    with pytest.raises(ValueError, match="dm_peer"):
        Conversation(os.urandom(16), ConversationKind.GROUP, 1, dm_peer_inbox_id="x")


async def test_group_states_keep_current_and_past_epochs(store: Store, session: AsyncSession) -> None:
    gid = os.urandom(32)
    states = {e: os.urandom(100) for e in range(7)}
    async with session.begin():
        for epoch, blob in states.items():
            await store.group_states.save(session, GroupState(gid, epoch, blob))
        await store.group_states.save(session, GroupState(os.urandom(32), 0, b"other group"))
    async with session.begin():
        # max_past_epochs = 3: newest epoch 6 plus 3, 4, 5.
        assert await store.group_states.epochs(session, gid) == [3, 4, 5, 6]
        current = await store.group_states.load_current(session, gid)
        assert current == GroupState(gid, 6, states[6])
        assert await store.group_states.load_epoch(session, gid, 4) == GroupState(gid, 4, states[4])
        assert await store.group_states.load_epoch(session, gid, 2) is None
        assert await store.group_states.prune(session, gid, max_past_epochs=1) == 2
        assert await store.group_states.epochs(session, gid) == [5, 6]
        await store.group_states.delete_group(session, gid)
        assert await store.group_states.load_current(session, gid) is None


async def test_messages_insert_idempotent(store: Store, session: AsyncSession) -> None:
    gid = os.urandom(32)
    msgs = [
        StoredMessage(os.urandom(32), gid, "alice", os.urandom(32), ns, "xmtp.org/text:1.0", os.urandom(64))
        for ns in (30, 10, 20)
    ]
    async with session.begin():
        assert [await store.messages.insert(session, m) for m in msgs] == [True, True, True]
        duplicate = StoredMessage(**{**msgs[0].__dict__, "content": b"redelivered, different"})
        assert not await store.messages.insert(session, duplicate)
    async with session.begin():
        assert await store.messages.get(session, msgs[0].id) == msgs[0]
        listed = await store.messages.list_for_group(session, gid)
        assert [m.sent_ns for m in listed] == [10, 20, 30]
        assert [m.sent_ns for m in await store.messages.list_for_group(session, gid, after_ns=10, limit=1)] == [20]
        await store.messages.set_delivery_status(session, msgs[1].id, DeliveryStatus.FAILED)
        got = await store.messages.get(session, msgs[1].id)
        assert got is not None and got.delivery_status is DeliveryStatus.FAILED
        with pytest.raises(NotFoundError):
            await store.messages.set_delivery_status(session, os.urandom(32), DeliveryStatus.FAILED)


async def test_cursor_never_moves_backwards(store: Store, session: AsyncSession) -> None:
    async with session.begin():
        assert await store.cursors.get(session, "g/1") == 0
        assert await store.cursors.advance(session, "g/1", 10)
        assert not await store.cursors.advance(session, "g/1", 5)
        assert not await store.cursors.advance(session, "g/1", 10)
        assert await store.cursors.get(session, "g/1") == 10
        assert await store.cursors.advance(session, "g/1", 11)
        assert await store.cursors.advance(session, "w/1", 3)
        assert await store.cursors.get_many(session, ["g/1", "w/1", "none"]) == {"g/1": 11, "w/1": 3, "none": 0}
        with pytest.raises(ValueError):
            await store.cursors.advance(session, "g/1", -1)


async def test_envelope_dedup(store: Store, session: AsyncSession) -> None:
    h = os.urandom(32)
    async with session.begin():
        assert not await store.envelopes.is_processed(session, "t", 1)
        assert await store.envelopes.mark(session, "t", 1, h)
        assert not await store.envelopes.mark(session, "t", 1, h)
        assert await store.envelopes.mark(session, "u", 1)  # same id on another topic is another envelope
        assert await store.envelopes.is_processed(session, "t", 1)
        assert await store.envelopes.is_hash_processed(session, h)
        assert not await store.envelopes.is_hash_processed(session, os.urandom(32))
        assert await store.envelopes.mark(session, "t", 2)
        assert await store.envelopes.is_processed(session, "t", 2)


async def test_mark_rolled_back_with_effects(store: Store, session: AsyncSession) -> None:
    """The dedup mark commits with the effects or not at all, so a crash mid-way reprocesses the envelope."""
    with pytest.raises(RuntimeError):
        async with session.begin():
            assert await store.envelopes.mark(session, "t", 9)
            raise RuntimeError("crash before commit")
    async with session.begin():
        assert not await store.envelopes.is_processed(session, "t", 9)
        assert await store.envelopes.mark(session, "t", 9)


async def test_a_message_row_is_no_oracle_of_its_content(store: Store, migrated_url: str) -> None:
    """XMTP's message id is SHA-256(group id, idempotency key, content): a reader of the table who guesses a short
    message and its key must not be able to confirm it, so neither the id nor anything computable from it
    without the key is stored in clear (it is found again through the keyed index)."""
    import asyncpg
    from xmtp_core.content.envelope import message_id as xmtp_message_id
    from xmtp_core.store import StoredMessage

    group = os.urandom(16)
    guessable = xmtp_message_id(group, "1764650000000000000", b"yes")
    msg = StoredMessage(guessable, group, "inbox", b"k", 1, "xmtp.org/text:1.0", b"yes")
    async with store.transaction() as s:
        assert await store.messages.insert(s, msg)
        assert not await store.messages.insert(s, msg)  # still idempotent on the id
    conn = await asyncpg.connect(migrated_url)
    try:
        raw = await conn.fetch("SELECT * FROM messages")
    finally:
        await conn.close()
    assert len(raw) == 1
    assert all(guessable not in bytes(v) for v in raw[0].values() if isinstance(v, bytes | memoryview))
    async with store.transaction() as s:
        assert await store.messages.get(s, guessable) == msg
        await store.messages.set_delivery_status(s, guessable, DeliveryStatus.FAILED)
        listed = await store.messages.list_for_group(s, group)
    assert [m.id for m in listed] == [guessable] and listed[0].delivery_status is DeliveryStatus.FAILED
