"""Interop fixtures: the libxmtp peers and the URL they reach the node at (the root conftest's `devnode`, on a
free port over a fresh Postgres database, unless XMTP_INTEROP_API_URL names another node).

`peer` is libxmtp 1.9.1 (node-sdk 5.5.0) unless a test asks for a version with
`@pytest.mark.parametrize("peer", ["1.10.0"], indirect=True)`; `peer_1_10` is always libxmtp 1.10.0.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# Test modules import the driver as `peer`; pytest's importlib mode does not put this folder on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from peer import BINDINGS_VERSION, NODE_SDK_VERSION, LibxmtpPeer, peer_missing_message


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


async def _running_peer(version: str) -> AsyncIterator[LibxmtpPeer]:
    problem = peer_missing_message(version)
    if problem:
        pytest.fail(problem, pytrace=False)  # a missing peer fails the test: it never skips interop
    driver = await LibxmtpPeer(version=version).start()
    try:
        yield driver
    finally:
        await driver.close()


@pytest.fixture
async def peer(request: pytest.FixtureRequest) -> AsyncIterator[LibxmtpPeer]:
    """A fresh peer process per test; its stderr tail is attached to every failure it reports."""
    async for driver in _running_peer(getattr(request, "param", NODE_SDK_VERSION)):
        yield driver


@pytest.fixture
async def peer_1_10() -> AsyncIterator[LibxmtpPeer]:
    """libxmtp 1.10.0 through `xmtp-bindings` 0.1.8, in a process of its own (`bindings/.venv`)."""
    async for driver in _running_peer(BINDINGS_VERSION):
        yield driver
