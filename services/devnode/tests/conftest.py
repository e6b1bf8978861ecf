"""Fixtures for devnode tests: gRPC stubs talking to the root conftest's devnode (on a fresh database)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for devnode_testkit under --import-mode=importlib

from devnode.main import RunningNode
from xmtp_core.protos.identity.api.v1 import identity_pb2_grpc
from xmtp_core.protos.mls.api.v1 import mls_pb2_grpc


@pytest.fixture
def node(devnode: RunningNode) -> RunningNode:
    """The root conftest's devnode, by the name these tests use."""
    return devnode


@pytest.fixture
async def channel(node: RunningNode) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{node.port}") as ch:
        yield ch


@pytest.fixture
def mls(channel: grpc.aio.Channel) -> mls_pb2_grpc.MlsApiStub:
    return mls_pb2_grpc.MlsApiStub(channel)


@pytest.fixture
def identity(channel: grpc.aio.Channel) -> identity_pb2_grpc.IdentityApiStub:
    return identity_pb2_grpc.IdentityApiStub(channel)
