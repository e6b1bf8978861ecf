"""Fixtures for devnode tests: a running node on a fresh database and gRPC stubs talking to it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for devnode_testkit under --import-mode=importlib

from devnode.main import RunningNode, start
from xmtp_core.protos.identity.api.v1 import identity_pb2_grpc
from xmtp_core.protos.mls.api.v1 import mls_pb2_grpc


@pytest.fixture
async def node(database_url: str) -> AsyncIterator[RunningNode]:
    running = await start("127.0.0.1:0", database_url)
    try:
        yield running
    finally:
        await running.stop(grace=1.0)


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
