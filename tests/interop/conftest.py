"""Interop fixtures: a devnode on a free port (fresh Postgres database) and the libxmtp reference peer."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

# Test modules import the driver as `peer`; pytest's importlib mode does not put this folder on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from peer import LibxmtpPeer, node_modules_missing_message


@pytest.fixture
async def devnode(database_url: str) -> AsyncIterator[Any]:
    """A devnode listening on 127.0.0.1:<free port>; `.port` is where libxmtp should connect."""
    from devnode.main import start

    node = await start(listen="127.0.0.1:0", database_url=database_url)
    try:
        yield node
    finally:
        await node.stop()


@pytest.fixture
def devnode_url(request: pytest.FixtureRequest) -> str:
    """The apiUrl libxmtp clients use: plain h2c gRPC on the devnode port.

    XMTP_INTEROP_API_URL points the same tests at another node (e.g. xmtp-node-go on :5556) instead.
    """
    override = os.environ.get("XMTP_INTEROP_API_URL")
    if override:
        return override
    node = request.getfixturevalue("devnode")
    return f"http://127.0.0.1:{node.port}"


@pytest.fixture
async def peer() -> AsyncIterator[LibxmtpPeer]:
    """A fresh `node peer.mjs` per test; its stderr tail is attached to every failure it reports."""
    problem = node_modules_missing_message()
    if problem:
        pytest.fail(problem, pytrace=False)
    driver = await LibxmtpPeer().start()
    try:
        yield driver
    finally:
        await driver.close()
