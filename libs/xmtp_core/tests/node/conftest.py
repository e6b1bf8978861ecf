"""Fixtures for node-client tests: a devnode on a fresh database and a `NodeClient` pointed at it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for nodekit under --import-mode=importlib

from devnode.main import RunningNode, start
from nodekit import FAST_CHANNEL
from xmtp_core.node import NodeClient


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
