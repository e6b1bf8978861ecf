"""`PerformanceMonitor`: how long the handler chain takes per message, as the Agent SDK's middleware of that name,
with figures a health check can read (count, p50/p95/max over a bounded window, slow responses, the event
loop's lag and the process's peak memory). Errors are the error chain's: downstream of here they are already
handled (`agent.errors`), so none are counted.

    monitor = PerformanceMonitor(critical_threshold_s=10, on_critical_response=alert)
    agent.use(monitor.middleware())      # first, so it times everything after it
    monitor.health_report()              # or start_reports(60, on_health_report) / shutdown()"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from router.agent import Middleware, Next

Callback = Callable[..., Awaitable[Any]]


class PerformanceMonitor:
    def __init__(
        self,
        *,
        critical_threshold_s: float = 10.0,
        window: int = 1000,
        on_response: Callback | None = None,
        on_critical_response: Callback | None = None,
    ) -> None:
        self.critical_threshold_s = critical_threshold_s
        self._durations: deque[float] = deque(maxlen=window)
        self._on_response = on_response
        self._on_critical = on_critical_response
        self.handled = 0
        self.critical = 0
        self.in_flight = 0
        self._started = time.monotonic()
        self._lag_s = 0.0
        self._reports: asyncio.Task[None] | None = None

    def middleware(self) -> Middleware:
        async def timed(ctx: Any, next_: Next) -> None:
            started = time.monotonic()
            self.in_flight += 1
            try:
                await next_()
            finally:
                self.in_flight -= 1
                elapsed = time.monotonic() - started
                self._durations.append(elapsed)
                self.handled += 1
            if self._on_response is not None:
                await self._on_response(elapsed, ctx)
            if elapsed >= self.critical_threshold_s:
                self.critical += 1
                if self._on_critical is not None:
                    await self._on_critical(elapsed, ctx)

        return timed

    def health_report(self) -> dict[str, float]:
        ordered = sorted(self._durations)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0

        return {
            "handled": self.handled, "critical": self.critical, "in_flight": self.in_flight,
            "p50_s": pct(0.5), "p95_s": pct(0.95), "max_s": ordered[-1] if ordered else 0.0,
            "uptime_s": time.monotonic() - self._started, "loop_lag_s": self._lag_s,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }  # fmt: skip

    def start_reports(self, interval_s: float, on_health_report: Callback) -> None:
        """Every ``interval_s``: measure the event loop's lag, then ``await on_health_report(report)``."""

        async def loop() -> None:
            while True:
                before = time.monotonic()
                await asyncio.sleep(interval_s)
                self._lag_s = max(0.0, time.monotonic() - before - interval_s)
                with contextlib.suppress(Exception):  # a failing reporter does not stop the reports
                    await on_health_report(self.health_report())

        self._reports = asyncio.create_task(loop())

    async def shutdown(self) -> None:
        if self._reports is not None:
            self._reports.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reports
            self._reports = None
