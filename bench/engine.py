"""Benchmark the engine with the store: per-message encrypt (a full send: intent, encrypt, state saved, echo
matched) and decrypt (one envelope: dedup mark, state loaded, decrypted, decoded, recorded, state saved), and a
commit (key update) in a 250-member group, created by one runtime and processed by another, each against the
bare MLS operation on the same group (the figures bench/mls.py reports), as ratios.

Run: `.venv/bin/python bench/engine.py` (uses DATABASE_URL, or starts a private Postgres); `--quick` for a
sanity run. The node is an in-memory stand-in (no network in the figures); identity look-ups are in memory.
Also printed: SQL statements and transactions per send and per receive (each is a Postgres round trip, and
each transaction adds two more: BEGIN and COMMIT).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy import event
from xmtp_core.content.codecs.text import TextCodec
from xmtp_core.content.envelope import encode_plaintext_envelope, new_idempotency_key
from xmtp_core.engine import InstallationKeys, new_key_package
from xmtp_core.mls.group import Group
from xmtp_core.node import (
    GroupMessage,
    NewGroupMessage,
    NewWelcome,
    NewWelcomePointer,
    NodeClient,
    Page,
    WelcomeKind,
    WelcomeMessage,
)
from xmtp_core.pg_url import plain_pg_url
from xmtp_core.runtime import Runtime
from xmtp_core.store import EncryptionKey, KeyRing, Store

from switchboard.devservices import dev_services

GROUP_SIZE = 250


@dataclass
class MemoryResolver:
    installations: dict[str, frozenset[bytes]] = field(default_factory=dict)

    async def installations_at(self, inbox_id: str, sequence_id: int) -> frozenset[bytes]:
        return self.installations.get(inbox_id, frozenset())

    async def latest_sequence_id(self, inbox_id: str) -> int:
        return 1


class MemoryNode:
    """The few node calls the runtime makes, kept in lists with ascending ids."""

    def __init__(self) -> None:
        self.next_id = 0
        self.messages: list[GroupMessage] = []
        self.welcomes: list[WelcomeMessage] = []
        self.key_packages: dict[bytes, bytes] = {}

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    async def upload_key_package(self, key_package: bytes, **_: Any) -> None:
        from xmtp_core.xmtp_mls.key_package import parse_key_package

        self.key_packages[parse_key_package(key_package).installation_key] = key_package

    async def fetch_key_packages(self, keys: Sequence[bytes]) -> list[bytes | None]:
        return [self.key_packages.get(k) for k in keys]

    async def send_group_messages(self, messages: Sequence[NewGroupMessage]) -> None:
        from xmtp_core.mls.framing import MLSMessage, PrivateMessage

        for m in messages:
            body = MLSMessage.from_bytes(m.data).body
            assert isinstance(body, PrivateMessage)
            commit = body.content_type == 3
            self.messages.append(GroupMessage(self._id(), time.time_ns(), body.group_id, m.data, b"", True, commit))

    async def iter_group_messages(self, group_id: bytes, *, cursor: int = 0) -> AsyncIterator[GroupMessage]:
        for m in list(self.messages):
            if m.group_id == group_id and m.id > cursor:
                yield m

    async def get_newest_group_messages(self, group_ids: Sequence[bytes], **_: Any) -> dict[bytes, GroupMessage | None]:
        newest: dict[bytes, GroupMessage | None] = dict.fromkeys(group_ids)
        for m in self.messages:
            if m.group_id in newest:
                newest[m.group_id] = m
        return newest

    async def send_welcome_messages(self, welcomes: Sequence[NewWelcome | NewWelcomePointer]) -> None:
        for w in welcomes:
            if isinstance(w, NewWelcome):
                self.welcomes.append(
                    WelcomeMessage(self._id(), 0, w.installation_key, w.data, w.hpke_public_key, w.wrapper_algorithm,
                                   w.welcome_metadata)
                )  # fmt: skip
            else:
                self.welcomes.append(
                    WelcomeMessage(self._id(), 0, w.installation_key, w.welcome_pointer, w.hpke_public_key,
                                   w.wrapper_algorithm, kind=WelcomeKind.POINTER)
                )  # fmt: skip

    async def iter_welcome_messages(self, key: bytes, *, cursor: int = 0) -> AsyncIterator[WelcomeMessage]:
        for w in list(self.welcomes):
            if w.installation_key == key and w.id > cursor:
                yield w

    async def query_welcome_messages(self, key: bytes, **_: Any) -> Page[WelcomeMessage]:
        return Page([w for w in self.welcomes if w.installation_key == key], None)


@dataclass
class RoundTrips:
    """SQL statements and committed transactions the stores ran (all runtimes together)."""

    statements: int = 0
    transactions: int = 0

    def watch(self, store: Store) -> None:
        def statement(*_: object) -> None:
            self.statements += 1

        def commit(*_: object) -> None:
            self.transactions += 1

        event.listen(store.db.sync_engine, "before_cursor_execute", statement)
        event.listen(store.db.sync_engine, "commit", commit)

    def snapshot(self) -> tuple[int, int]:
        return self.statements, self.transactions


@dataclass(frozen=True)
class Stats:
    samples_ns: list[int]

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples_ns) / 1000


async def _timed(n: int, step: Callable[[int], Awaitable[object]]) -> Stats:
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        await step(i)
        samples.append(time.perf_counter_ns() - start)
    return Stats(samples)


def _timed_sync(n: int, step: Callable[[int], object]) -> Stats:
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        step(i)
        samples.append(time.perf_counter_ns() - start)
    return Stats(samples)


@contextlib.contextmanager
def databases(count: int) -> Iterator[list[str]]:
    with dev_services(need_nats=False) as svc:
        admin = plain_pg_url(svc.database_url)
        names = [f"bench_{uuid.uuid4().hex[:12]}" for _ in range(count)]
        for name in names:
            asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
        parts = urlsplit(admin)
        try:
            yield [urlunsplit((parts.scheme, parts.netloc, "/" + n, parts.query, parts.fragment)) for n in names]
        finally:
            for name in names:
                asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _runtime(node: MemoryNode, resolver: MemoryResolver, url: str) -> Runtime:
    keys = InstallationKeys.generate(os.urandom(32).hex())
    resolver.installations[keys.inbox_id] = frozenset({keys.installation_key})
    store = await Store.open(url, KeyRing(EncryptionKey.generate()))
    runtime = Runtime(cast(NodeClient, node), store, keys)
    runtime.core.resolver = resolver  # type: ignore[assignment]
    await runtime.rotate_key_package()
    return runtime


async def _group_of(runtime: Runtime, group_id: bytes) -> Group:
    async with runtime.store.transaction() as s:
        state = await runtime.store.group_states.load_current(s, group_id)
    assert state is not None
    return Group.from_bytes(state.state)


async def _members(node: MemoryNode, resolver: MemoryResolver, count: int) -> list[str]:
    inboxes = []
    for _ in range(count):
        keys = InstallationKeys.generate(os.urandom(32).hex())
        resolver.installations[keys.inbox_id] = frozenset({keys.installation_key})
        await node.upload_key_package(new_key_package(keys).tls_bytes)
        inboxes.append(keys.inbox_id)
    return inboxes


async def run(
    urls: list[str], messages: int, commits: int, group_size: int, trips: dict[str, float] | None = None
) -> Mapping[str, float]:
    """The figures; ``trips``, when given, receives statements and transactions per send and per receive."""
    node, resolver = MemoryNode(), MemoryResolver()
    alice, bob = [await _runtime(node, resolver, u) for u in urls]
    counter = RoundTrips()
    counter.watch(alice.store)
    counter.watch(bob.store)
    try:
        dm = await alice.create_dm(bob.keys.inbox_id)
        await bob.sync_welcomes()
        await bob.sync_group(dm)
        text = TextCodec().encode("x" * 200)

        before = len(node.messages)
        at_start = counter.snapshot()
        send = await _timed(messages, lambda i: alice.send(dm, "x" * 200))
        after_send = counter.snapshot()
        sent = [m for m in node.messages[before:] if m.group_id == dm]
        receive = await _timed(len(sent), lambda i: bob.handle_group_message(sent[i]))
        after_receive = counter.snapshot()
        if trips is not None:
            trips["statements per send"] = (after_send[0] - at_start[0]) / messages
            trips["transactions per send"] = (after_send[1] - at_start[1]) / messages
            trips["statements per receive"] = (after_receive[0] - after_send[0]) / len(sent)
            trips["transactions per receive"] = (after_receive[1] - after_send[1]) / len(sent)

        a_group, b_group = await _group_of(alice, dm), await _group_of(bob, dm)
        plain = encode_plaintext_envelope(text.to_bytes(), new_idempotency_key())
        raw = [a_group.encrypt_application(plain) for _ in range(messages)]
        mls_encrypt = _timed_sync(messages, lambda i: a_group.encrypt_application(plain))
        mls_decrypt = _timed_sync(messages, lambda i: b_group.process_message(raw[i]))

        others = await _members(node, resolver, group_size - 2)
        gid = await alice.create_group([bob.keys.inbox_id, *others], name="bench")
        await bob.sync_welcomes()
        await bob.sync_group(gid)
        before = len(node.messages)
        commit = await _timed(commits, lambda i: alice.key_update(gid))
        made = [m for m in node.messages[before:] if m.group_id == gid]
        process = await _timed(len(made), lambda i: bob.handle_group_message(made[i]))

        a_big, b_big = await _group_of(alice, gid), await _group_of(bob, gid)
        staged = []

        def create(i: int) -> None:
            staged.append(a_big.commit([], force_path=True))

        mls_commit = _timed_sync(commits, create)
        assert staged[0].message is not None
        first = staged[0].message
        mls_process = _timed_sync(commits, lambda i: Group.from_bytes(b_big.to_bytes()).process_message(first))
        copy_cost = _timed_sync(commits, lambda i: Group.from_bytes(b_big.to_bytes()))
        return {
            "send (engine+store) us": send.median_us,
            "encrypt (MLS) us": mls_encrypt.median_us,
            "receive (engine+store) us": receive.median_us,
            "decrypt (MLS) us": mls_decrypt.median_us,
            f"commit create {group_size} (engine+store) ms": commit.median_us / 1000,
            f"commit create {group_size} (MLS) ms": mls_commit.median_us / 1000,
            f"commit process {group_size} (engine+store) ms": process.median_us / 1000,
            f"commit process {group_size} (MLS, incl. state copy) ms": mls_process.median_us / 1000,
            f"state copy {group_size} (to_bytes+from_bytes) ms": copy_cost.median_us / 1000,
        }
    finally:
        await alice.store.close()
        await bob.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny run: does it still work?")
    args = parser.parse_args()
    messages, commits, size = (5, 2, 8) if args.quick else (50, 5, GROUP_SIZE)
    trips: dict[str, float] = {}
    with databases(2) as urls:
        figures = asyncio.run(run(urls, messages, commits, size, trips))
    print(f"engine bench (cpus: {os.cpu_count()}, {messages} messages, {commits} commits, group of {size})")
    for name, value in {**figures, **trips}.items():
        print(f"  {name:<52} {value:10.1f}")
    pairs = [
        ("send (engine+store) us", "encrypt (MLS) us", "send / encrypt"),
        ("receive (engine+store) us", "decrypt (MLS) us", "receive / decrypt"),
        (f"commit create {size} (engine+store) ms", f"commit create {size} (MLS) ms", "commit create"),
        (f"commit process {size} (engine+store) ms", f"commit process {size} (MLS, incl. state copy) ms",
         "commit process"),
    ]  # fmt: skip
    for ours, floor, label in pairs:
        print(f"  ratio {label:<46} {figures[ours] / figures[floor]:10.1f}x")


if __name__ == "__main__":
    main()
