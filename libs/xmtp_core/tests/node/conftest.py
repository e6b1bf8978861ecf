"""Fixtures for node-client tests: a `NodeClient` with fast reconnects on the root conftest's devnode."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for nodekit under --import-mode=importlib

from devnode.main import RunningNode
from nodekit import FAST_CHANNEL
from xmtp_core.node import NodeClient


@pytest.fixture
async def client(devnode: RunningNode) -> AsyncIterator[NodeClient]:
    async with NodeClient.for_url(f"http://127.0.0.1:{devnode.port}", **FAST_CHANNEL) as node:
        yield node
