"""Restart after a real kill: a child process (`runtime_child.py`) drives our installation and SIGKILLs itself
between publishing a commit and merging it, or between decrypting a message and recording it. This process then
checks what the dead one left in Postgres (the intent still Published, nothing recorded), restarts the runtime
over the same database and key, and checks that nothing was lost or applied twice and that the conversation with
the real libxmtp peer continues both ways.

(test_engine_interop.py simulates the same crash points in-process with an exception.)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from peer import LibxmtpPeer
from xmtp_core.engine import MessageReceived
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.node import NodeClient
from xmtp_core.runtime import Runtime, group_topic
from xmtp_core.store import EncryptionKey, Intent, IntentState, KeyRing, Store

pytestmark = [pytest.mark.interop, pytest.mark.timeout(300)]

CHILD = Path(__file__).resolve().parent / "runtime_child.py"
CHILD_TIMEOUT = 120.0
TEXT = "xmtp.org/text:1.0"
GROUP_UPDATED = "xmtp.org/group_updated:1.0"


@dataclass(frozen=True)
class Installation:
    """Our registered installation as a restarted process finds it: the node, the store database and its key."""

    node_url: str
    store_url: str
    key: EncryptionKey
    runtime: Runtime  # the registering process's runtime (used for setup and for reading the store)


@dataclass(frozen=True)
class ChildExit:
    returncode: int | None
    reached: dict[str, Any]
    stderr: str


@pytest.fixture
async def store_url(new_database: Callable[[], Awaitable[str]]) -> str:
    """A second fresh database on the test's server: devnode owns the test's own one."""
    return await new_database()


@pytest.fixture
async def ours(devnode_url: str, store_url: str) -> AsyncIterator[Installation]:
    key = EncryptionKey.generate()
    node = NodeClient.for_url(devnode_url)
    store = await Store.open(store_url, KeyRing(key))
    try:
        runtime = await Runtime.register(node, store, LocalWalletSigner.generate())
        yield Installation(devnode_url, store_url, key, runtime)
    finally:
        await store.close()
        await node.close()


async def _run_child(inst: Installation, *args: str) -> ChildExit:
    """Run runtime_child.py over our installation (same node, database and XMTP_DB_ENCRYPTION_KEY)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XMTP_DB_ENCRYPTION_KEY")}
    env["XMTP_DB_ENCRYPTION_KEY"] = inst.key.hex()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), "--node-url", inst.node_url, "--store-url", inst.store_url, *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CHILD_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    reached = json.loads(lines[-1]) if lines else {}
    return ChildExit(proc.returncode, reached, err.decode(errors="replace")[-4000:])


def _assert_killed(child: ChildExit, point: str) -> None:
    assert child.returncode == -signal.SIGKILL, f"child exited {child.returncode}; stderr:\n{child.stderr}"
    assert child.reached.get("point") == point, child.reached


async def _restart(inst: Installation) -> Runtime:
    """A new process's view: a fresh Store over the same database and key, then Runtime.open (which resumes)."""
    store = await Store.open(inst.store_url, KeyRing(EncryptionKey.from_hex(inst.key.hex())))
    return await Runtime.open(inst.runtime.node, store)


async def _epoch(runtime: Runtime, group_id: bytes) -> int:
    async with runtime.store.transaction() as s:
        state = await runtime.store.group_states.load_current(s, group_id)
    assert state is not None
    return state.epoch


async def _stored_intent(runtime: Runtime, intent_id: int) -> Intent:
    intent = await runtime.intent(intent_id)
    assert intent is not None
    return intent


async def _commits_on_node(runtime: Runtime, group_id: bytes) -> list[bytes]:
    page = await runtime.node.query_group_messages(group_id)
    return [m.data for m in page.items if m.is_commit]


def _received(events: list[Any]) -> list[MessageReceived]:
    return [e for e in events if isinstance(e, MessageReceived)]


def _texts_from(messages: list[dict[str, Any]], inbox_id: str) -> list[Any]:
    return [m["content"] for m in messages if m["senderInboxId"] == inbox_id and m["kind"] == "application"]


async def test_killed_between_publishing_a_commit_and_merging_it(
    peer: LibxmtpPeer, devnode_url: str, ours: Installation
) -> None:
    bo = await peer.create("bo", devnode_url)
    runtime = ours.runtime
    gid = await runtime.create_group([bo.inbox_id], name="before")
    epoch = await _epoch(runtime, gid)
    commits = await _commits_on_node(runtime, gid)

    child = await _run_child(ours, "rename", gid.hex(), "after")
    _assert_killed(child, "published")
    intent_id = int(child.reached["intent_id"])

    # What the dead process left: the commit is on the node, the intent Published, the epoch not merged.
    assert len(await _commits_on_node(runtime, gid)) == len(commits) + 1
    left = await _stored_intent(runtime, intent_id)
    assert left.state is IntentState.PUBLISHED and left.attempts == 1
    assert await _epoch(runtime, gid) == epoch
    assert (await runtime.conversation(gid)).name == "before"

    restarted = await _restart(ours)
    try:
        done = await _stored_intent(restarted, intent_id)
        assert done.state is IntentState.PROCESSED and done.attempts == 1
        assert await _epoch(restarted, gid) == epoch + 1  # merged exactly once
        assert len(await _commits_on_node(restarted, gid)) == len(commits) + 1  # not published again
        assert (await restarted.conversation(gid)).name == "after"
        renames = [m for m in await restarted.messages(gid) if m.content_type == GROUP_UPDATED]
        assert len(renames) == 2  # the add that created the group, and this rename: no duplicate
        assert (await peer.group_info("bo", gid.hex()))["name"] == "after"

        await restarted.send(gid, "still talking")
        assert _texts_from(await peer.messages("bo", gid.hex()), restarted.keys.inbox_id) == ["still talking"]
        await peer.send_text("bo", gid.hex(), "heard you")
        received = _received(await restarted.sync_group(gid))
        assert [(m.content.value, m.sender_inbox_id) for m in received] == [("heard you", bo.inbox_id)]
        assert restarted.rejections == []
    finally:
        await restarted.store.close()


async def test_killed_between_decrypting_and_recording(peer: LibxmtpPeer, devnode_url: str, ours: Installation) -> None:
    runtime = ours.runtime
    alice = await peer.create("alice", devnode_url)
    dm = await peer.create_dm("alice", runtime.keys.inbox_id)
    await runtime.sync_welcomes()
    gid = bytes.fromhex(dm["id"])
    await runtime.sync_group(gid)
    async with runtime.store.transaction() as s:
        cursor = await runtime.store.cursors.get(s, group_topic(gid))
    one = await peer.send_text("alice", dm["id"], "one")
    await peer.send_text("alice", dm["id"], "two")

    child = await _run_child(ours, "sync", gid.hex())
    _assert_killed(child, "decrypted")
    assert child.reached["message_id"] == one  # "one" was decrypted when the process died

    # The dead process's open transaction was rolled back: nothing recorded, the cursor where it was.
    assert [m for m in await runtime.messages(gid) if m.content_type == TEXT] == []
    async with runtime.store.transaction() as s:
        assert await runtime.store.cursors.get(s, group_topic(gid)) == cursor

    restarted = await _restart(ours)
    try:
        received = _received(await restarted.sync_group(gid))
        assert [(m.content.value, m.sender_inbox_id) for m in received] == [
            ("one", alice.inbox_id),
            ("two", alice.inbox_id),
        ]
        assert _received(await restarted.sync_group(gid)) == []  # nothing applied twice
        texts = [m for m in await restarted.messages(gid) if m.content_type == TEXT]
        assert sorted(m.id for m in texts) == sorted(m.message_id for m in received)

        await peer.send_text("alice", dm["id"], "three")
        assert [m.content.value for m in _received(await restarted.sync_group(gid))] == ["three"]
        await restarted.send(gid, "four")
        assert _texts_from(await peer.messages("alice", dm["id"]), restarted.keys.inbox_id) == ["four"]
        assert restarted.rejections == []
    finally:
        await restarted.store.close()
