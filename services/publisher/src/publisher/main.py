"""`switchboard publisher`: connect to NATS and the XMTP node (XMTP_ENV / XMTP_API_URL) and run `Publisher`."""

from __future__ import annotations

from xmtp_core import health, telemetry
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import connect
from xmtp_core.node import NodeClient

from publisher.service import Publisher


async def serve(settings: BusSettings | None = None) -> None:
    settings = settings or BusSettings()
    with telemetry.service("publisher"):
        async with (
            connect(settings, "switchboard-publisher") as js,
            NodeClient.from_env(app_version="switchboard-publisher/0.1") as node,
            health.serving("publisher", {"nats": health.nats_check(js._nc), "node": health.node_check(node)}),
        ):
            await Publisher(node, js, settings).run()
