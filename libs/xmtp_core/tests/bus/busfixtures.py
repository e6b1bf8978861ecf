"""Bus fixtures shared by the bus, ingest and publisher tests: a JetStream context on the session's NATS with the
bus's streams and buckets fresh per test, and (for the services) a node client on the root conftest's devnode.
Import them into a conftest: `from busfixtures import js, nc, settings`."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import delete_all, ensure_buckets, ensure_streams
from xmtp_core.node import NodeClient

from switchboard.devservices import DevServices


@pytest.fixture
def settings(services: DevServices) -> BusSettings:
    return BusSettings(nats_url=services.nats_url, partitions=2, ack_wait_s=1.0, max_deliver=3, nak_delay_s=0.05)


@pytest.fixture
async def nc(settings: BusSettings) -> AsyncIterator[Client]:
    client = await nats.connect(settings.nats_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def js(nc: Client, settings: BusSettings) -> AsyncIterator[JetStreamContext]:
    ctx = nc.jetstream()
    await delete_all(ctx)
    await ensure_streams(ctx, settings)
    await ensure_buckets(ctx, settings)
    yield ctx
    await delete_all(ctx)


def _node_conftest() -> ModuleType:
    # The node client tests' client fixture (on the root conftest's devnode), loaded under its own name.
    spec = importlib.util.spec_from_file_location("_node_conftest", Path(__file__).parents[1] / "node" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_NODE = _node_conftest()
client = _NODE.client


@pytest.fixture
def node(client: NodeClient) -> NodeClient:
    return client
