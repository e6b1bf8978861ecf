"""PerformanceMonitor times the chain after it: counts (a failing message too; its error reaches the error chain), slow
responses reported past the threshold, percentiles over a bounded window, periodic reports until shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

from router import Agent, MessageContext
from router.monitor import PerformanceMonitor

from .conftest import MakeCtx


async def test_the_monitor_times_the_chain_and_reports(make_ctx: MakeCtx) -> None:
    slow: list[float] = []

    async def on_critical(elapsed: float, ctx: Any) -> None:
        slow.append(elapsed)

    monitor = PerformanceMonitor(critical_threshold_s=0.05, window=3, on_critical_response=on_critical)
    agent, errors = Agent("t"), []
    agent.use(monitor.middleware())

    async def fail(ctx: Any, next: Any) -> None:
        if ctx.message.content == "boom":
            raise ValueError("boom")
        await next()

    agent.use(fail)

    @agent.on("text")
    async def handle(ctx: MessageContext) -> None:
        if ctx.message.content == "slow":
            await asyncio.sleep(0.06)

    @agent.on("unhandled_error")
    async def unhandled(error: Exception) -> None:
        errors.append(str(error))

    for text in ("a", "slow", "b", "c", "boom"):
        await agent.dispatch_message(make_ctx(agent, text))
    report = monitor.health_report()
    assert report["handled"] == 5 and report["critical"] == 1 and len(slow) == 1 and slow[0] >= 0.05
    assert errors == ["boom"] and report["in_flight"] == 0
    assert report["max_s"] < 0.05  # the window keeps the last 3: the slow one has left it
    reports: list[dict[str, float]] = []

    async def on_report(r: dict[str, float]) -> None:
        reports.append(r)

    monitor.start_reports(0.01, on_report)
    await asyncio.sleep(0.05)
    await monitor.shutdown()
    count = len(reports)
    await asyncio.sleep(0.03)
    assert count >= 2 and len(reports) == count and "loop_lag_s" in reports[0]
