"""`switchboard router --app module:attribute [--app ...]`: import each agent (as uvicorn imports an app, from the
current directory) and run a worker for each in this process, on one NATS connection (NATS_URL, SB_PARTITIONS).

One process for many agents is how a deployment of many small agents stays cheap (a process per agent costs
~60 MB and a start-up each); each agent keeps its own durable consumers (`router-<agent>`), so replicas of the
process, or one agent moved to a process of its own, share that agent's load as before. A worker that fails
stops the process (the supervisor restarts it; its events wait in the stream)."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import Sequence

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


def load_apps(specs: str | Sequence[str]) -> list[Agent]:
    """Every `module:attribute`, each a distinct agent (two apps with one name would share a durable consumer)."""
    agents = [load_app(spec) for spec in ([specs] if isinstance(specs, str) else specs)]
    if not agents:
        raise ValueError("--app is required")
    names = [agent.name for agent in agents]
    if len(set(names)) != len(names):
        raise ValueError(f"two apps with the same agent name: {sorted(n for n in names if names.count(n) > 1)}")
    return agents


async def serve(apps: str | Sequence[str], settings: BusSettings | None = None) -> None:
    settings = settings or BusSettings()
    agents = load_apps(apps)
    with telemetry.service("router"):
        label = agents[0].name if len(agents) == 1 else f"{agents[0].name}+{len(agents) - 1}"
        nc = await nats.connect(settings.nats_servers, name=f"switchboard-router-{label}", max_reconnect_attempts=-1)
        try:
            js = nc.jetstream()
            await ensure_streams(js, settings)
            await ensure_buckets(js, settings)
            async with health.serving("router", {"nats": health.nats_check(nc)}), asyncio.TaskGroup() as group:
                for agent in agents:
                    group.create_task(Worker(agent, nc, js, settings).run(), name=f"router-{agent.name}")
        finally:
            await close_bounded(nc)
