"""`switchboard ingest`: connect to NATS and the XMTP node (XMTP_ENV / XMTP_API_URL) and run `Ingest`."""

from __future__ import annotations

from xmtp_core import health, telemetry
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import connect, ensure_buckets
from xmtp_core.node import NodeClient

from ingest.service import Ingest


async def serve(settings: BusSettings | None = None) -> None:
    settings = settings or BusSettings()
    with telemetry.service("ingest"):
        async with connect(settings, "switchboard-ingest") as js:
            buckets = await ensure_buckets(js, settings)
            async with (
                NodeClient.from_env(app_version="switchboard-ingest/0.1") as node,
                health.serving("ingest", {"nats": health.nats_check(js._nc), "node": health.node_check(node)}),
            ):
                await Ingest(node, js, buckets, settings).run()
