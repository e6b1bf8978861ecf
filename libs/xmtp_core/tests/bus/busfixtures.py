"""Bus fixtures shared by the bus, ingest and publisher tests: a JetStream context on the session's NATS with the
bus's streams and buckets fresh per test (import them into a conftest: `from busfixtures import js, nc, settings`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import delete_all, ensure_buckets, ensure_streams

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
        await client.drain()


@pytest.fixture
async def js(nc: Client, settings: BusSettings) -> AsyncIterator[JetStreamContext]:
    ctx = nc.jetstream()
    await delete_all(ctx)
    await ensure_streams(ctx, settings)
    await ensure_buckets(ctx, settings)
    yield ctx
    await delete_all(ctx)
