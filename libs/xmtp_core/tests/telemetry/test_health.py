"""The health endpoint: liveness, readiness from the checks (a raising or hanging check is down), Prometheus
metrics, and bounded handling of hostile requests."""

from __future__ import annotations

import asyncio
import json

from xmtp_core import health


async def _get(port: int, raw: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _req(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


async def _up() -> bool:
    return True


async def _down() -> bool:
    return False


async def _raises() -> bool:
    raise RuntimeError("secret detail that must not be shown")


async def _hangs() -> bool:
    await asyncio.sleep(60)
    return True


async def test_ready_only_when_every_check_is_up() -> None:
    async with health.serving("t", {"nats": _up, "node": _up}, {"SB_HEALTH_PORT": "0"}) as server:
        assert server is not None
        assert await _get(server.port, _req("/healthz")) == (200, b"ok\n")
        status, body = await _get(server.port, _req("/readyz"))
        assert status == 200 and json.loads(body)["checks"] == {"nats": "ok", "node": "ok"}
        server.checks = {"nats": _up, "postgres": _down, "node": _raises}
        status, body = await _get(server.port, _req("/readyz"))
        assert status == 503
        assert json.loads(body)["checks"] == {"nats": "ok", "postgres": "down", "node": "down"}
        assert b"secret" not in body


async def test_a_hanging_check_is_down_within_the_timeout() -> None:
    async with health.serving("t", {"node": _hangs}, {"SB_HEALTH_PORT": "0"}) as server:
        assert server is not None
        loop = asyncio.get_running_loop()
        start = loop.time()
        status, _ = await _get(server.port, _req("/readyz"))
        assert status == 503 and loop.time() - start < health.CHECK_TIMEOUT_S + 2


async def test_metrics_and_hostile_requests() -> None:
    from xmtp_core import telemetry

    telemetry.DEAD_LETTERS.labels("test").inc()
    async with health.serving("t", {}, {"SB_HEALTH_PORT": "0"}) as server:
        assert server is not None
        status, body = await _get(server.port, _req("/metrics"))
        assert status == 200 and b'sb_dead_letters_total{hop="test"}' in body
        assert (await _get(server.port, _req("/nope")))[0] == 404
        assert (await _get(server.port, _req("/healthz", "POST")))[0] == 405
        assert (await _get(server.port, b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n"))[0] == 400
        assert (await _get(server.port, b"\xff\xfe garbage\r\n\r\n"))[0] == 400
        assert (await _get(server.port, _req("/healthz")))[0] == 200  # still serving


async def test_off_without_a_port() -> None:
    async with health.serving("t", {}, {}) as server:
        assert server is None
