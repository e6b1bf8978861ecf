"""Fixtures for node-client tests: a devnode on a fresh database and a `NodeClient` pointed at it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for nodekit under --import-mode=importlib

from devnode.main import RunningNode, start
from xmtp_core.node import BackoffPolicy, NodeClient

# Fast reconnects so restart tests do not sit in gRPC's or our own backoff.
FAST_BACKOFF = BackoffPolicy(initial_s=0.05, maximum_s=0.5, max_retries=200)
FAST_CHANNEL = {"min_reconnect_backoff_ms": 50, "max_reconnect_backoff_ms": 300, "call_timeout_s": 20.0}


@pytest.fixture
async def devnode(database_url: str) -> AsyncIterator[RunningNode]:
    running = await start("127.0.0.1:0", database_url)
    try:
        yield running
    finally:
        await running.stop(grace=1.0)


@pytest.fixture
async def client(devnode: RunningNode) -> AsyncIterator[NodeClient]:
    async with NodeClient.for_url(f"http://127.0.0.1:{devnode.port}", **FAST_CHANNEL) as node:
        yield node
