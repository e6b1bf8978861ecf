"""A child process for the kill tests (`test_runtime_kill.py`): opens the installation already in a store, drives
one operation, and SIGKILLs itself at a chosen crash point, so the parent can restart over what a real dead
process left behind (open transactions rolled back by Postgres, nothing after the crash point run).

    XMTP_DB_ENCRYPTION_KEY=<hex> python runtime_child.py --node-url URL --store-url URL <scenario> <group id hex> ...

Scenarios (the crash point is installed here by wrapping a method; the product code has no hooks):
- `rename NAME`: update the group's name; die right after the commit is published, before it is pulled back
  and merged.
- `sync`: pull the group; die when the first decrypted text message is about to be recorded (inside the
  envelope's transaction).

Just before dying it prints one JSON line (flushed) saying what it reached. Exit code 3: the crash point was
never reached (the parent expects -SIGKILL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from typing import Any

from xmtp_core.node import NodeClient
from xmtp_core.runtime import Runtime
from xmtp_core.store import Intent, KeyRing, Store, StoredMessage

NOT_REACHED = 3
TEXT = "xmtp.org/text:1.0"


def _die(**reached: Any) -> None:
    """What the crash point saw, for the parent; then the kill (no cleanup, no finally blocks, no flushes)."""
    print(json.dumps(reached), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


def _die_after_publish(runtime: Runtime) -> None:
    publish = runtime.outbound.publish

    async def publish_then_die(intent: Intent) -> bool:
        sent = await publish(intent)
        if sent:
            _die(point="published", intent_id=intent.id)
        return sent

    runtime.outbound.publish = publish_then_die  # type: ignore[method-assign]


def _die_before_recording_text(runtime: Runtime) -> None:
    insert = runtime.store.messages.insert

    async def insert_or_die(session: Any, msg: StoredMessage) -> bool:
        if msg.content_type == TEXT:
            # The envelope was decrypted; its transaction (message, cursor, processed mark) is still open.
            _die(point="decrypted", message_id=msg.id.hex())
        return await insert(session, msg)

    runtime.store.messages.insert = insert_or_die  # type: ignore[method-assign]


async def run(args: argparse.Namespace) -> int:
    node = NodeClient.for_url(args.node_url)
    store = await Store.open(args.store_url, KeyRing.from_env())
    try:
        runtime = await Runtime.open(node, store)
        group_id = bytes.fromhex(args.group_id)
        if args.scenario == "rename":
            _die_after_publish(runtime)
            await runtime.update_name(group_id, args.name)
        else:
            _die_before_recording_text(runtime)
            await runtime.sync_group(group_id)
    finally:
        await store.close()
        await node.close()
    print(json.dumps({"point": None}), flush=True)
    return NOT_REACHED


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node-url", required=True)
    parser.add_argument("--store-url", required=True)
    sub = parser.add_subparsers(dest="scenario", required=True)
    rename = sub.add_parser("rename")
    rename.add_argument("group_id")
    rename.add_argument("name")
    sync = sub.add_parser("sync")
    sync.add_argument("group_id")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
