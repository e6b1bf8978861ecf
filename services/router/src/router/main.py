"""`switchboard router --app module:attribute`: import the agent (as uvicorn imports an app, from the current
directory) and run a worker for it (NATS_URL, SB_PARTITIONS)."""

from __future__ import annotations

import importlib
import os
import sys

import nats
from xmtp_core import health, telemetry
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import close_bounded, ensure_buckets, ensure_streams

from router.agent import Agent
from router.worker import Worker


def load_app(spec: str) -> Agent:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError("--app takes module:attribute, e.g. examples.echo:agent")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    agent = getattr(importlib.import_module(module_name), attr)
    if not isinstance(agent, Agent):
        raise TypeError(f"{spec} is not a router.Agent")
    return agent


async def serve(app: str, settings: BusSettings | None = None) -> None:
    settings = settings or BusSettings()
    agent = load_app(app)
    with telemetry.service("router"):
        name = f"switchboard-router-{agent.name}"
        nc = await nats.connect(settings.nats_servers, name=name, max_reconnect_attempts=-1)
        try:
            js = nc.jetstream()
            await ensure_streams(js, settings)
            await ensure_buckets(js, settings)
            async with health.serving("router", {"nats": health.nats_check(nc)}):
                await Worker(agent, nc, js, settings).run()
        finally:
            await close_bounded(nc)
