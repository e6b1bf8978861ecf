"""One DM from libxmtp through the pipeline as processes is one trace: ingest -> crypto -> router -> crypto ->
publisher, carried in NATS headers, exported over OTLP (the services' standard `OTEL_*` variables) to a receiver
in this test. And a canary: the message's text and the agent's keys are in no span attribute, no metric (each
service's `/metrics`) and no log line; the logs are JSON with trace ids."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for

from switchboard.devservices import DevServices

pytestmark = pytest.mark.interop

SERVICES = ("ingest", "crypto", "router", "publisher")
# The hops of one inbound text and its answer, by the service that opens each span.
EXPECTED = {
    "ingest": {"SB_IN publish"},
    "crypto": {"SB_IN process", "SB_EV publish", "SB_OUT process", "SB_PUB publish"},
    "router": {"SB_EV process", "SB_OUT publish"},
    "publisher": {"SB_PUB process", "SB_RES publish"},
}


def _value(value: Any) -> str:
    kind = value.WhichOneof("value")
    return str(getattr(value, kind)) if kind else ""


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP trace receiver: every exported span as (service.name, span name, trace id hex, attributes)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str, dict[str, str]]] = []

    async def Export(self, request: Any, context: Any) -> Any:
        for rs in request.resource_spans:
            attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
            service = attrs.get("service.name", "")
            for ss in rs.scope_spans:
                for span in ss.spans:
                    values = {a.key: _value(a.value) for a in span.attributes}
                    for event in span.events:
                        values.update({f"event.{a.key}": _value(a.value) for a in event.attributes})
                    values["status"] = span.status.message
                    self.spans.append((service, span.name, span.trace_id.hex(), values))
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, int]]:
    server = grpc.aio.server()
    got = Receiver()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(got, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield got, port
    finally:
        await server.stop(None)


def _metrics_port(stack: Stack, service: str) -> int:
    text = (stack.logs / f"{service}-0.log").read_text(errors="replace")
    found = re.findall(r"health and metrics on port (\d+)", text)
    assert found, f"{service} serves no health endpoint"
    return int(found[-1])


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def test_one_trace_spans_the_pipeline_and_nothing_leaks(
    peer: LibxmtpPeer,
    devnode_url: str,
    database_url: str,
    services: DevServices,
    receiver: tuple[Receiver, int],
) -> None:
    spans, port = receiver
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "SB_HEALTH_PORT": "0",  # a free port each; the log line says which
        "SB_HEALTH_HOST": "127.0.0.1",
    }
    canary = "canary-" + secrets.token_hex(8)
    async with Stack.start(devnode_url, database_url, services.nats_url, extra_env=env) as stack:
        keys = [stack.env["XMTP_WALLET_KEY"], stack.env["XMTP_DB_ENCRYPTION_KEY"]]
        secrets_seen = [canary, *keys, *(k.removeprefix("0x") for k in keys)]
        await peer.create("alice", devnode_url)
        dm = await peer.create_dm("alice", stack.agent_inbox_id)

        async def answers() -> list[dict[str, Any]]:
            return from_agent(await peer.messages("alice", dm["id"]), stack.agent_inbox_id)

        # A text sent before the agent joined is read by crypto's sync of the Welcome (not from SB_IN), so it
        # belongs to the Welcome's trace; the canary goes after the agent answered once.
        await peer.send_text("alice", dm["id"], "ping")
        await wait_for(answers, lambda a: len(a) >= 1, within=90)

        def full_traces() -> list[str]:
            by_trace: dict[str, set[tuple[str, str]]] = {}
            for service, name, trace_id, _ in spans.spans:
                by_trace.setdefault(trace_id, set()).add((service.removeprefix("switchboard-"), name))
            return [
                t
                for t, seen in by_trace.items()
                if all((svc, name) in seen for svc, names in EXPECTED.items() for name in names)
            ]

        async def probe() -> list[str]:
            return full_traces()

        await asyncio.sleep(1.0)  # the ping's spans exported
        before = set(full_traces())
        await peer.send_text("alice", dm["id"], canary)
        got = await wait_for(answers, lambda a: len(a) >= 2, within=90)
        assert got[-1]["content"] == f"echo: {canary}"
        (trace_id,) = set(await wait_for(probe, lambda t: len(set(t) - before) >= 1, within=30)) - before
        in_trace = [(svc, name) for svc, name, t, _ in spans.spans if t == trace_id]
        assert {svc.removeprefix("switchboard-") for svc, _ in in_trace} == set(SERVICES)
        # The node calls are in the trace too (official gRPC instrumentation), and so are Postgres queries.
        assert any(svc.endswith("publisher") and "MlsApi" in name for svc, name in in_trace), in_trace
        db = [v for svc, _, t, v in spans.spans if t == trace_id and v.get("db.system") == "postgresql"]
        assert db  # the Postgres queries of the hops (official asyncpg instrumentation)
        metrics: dict[str, str] = {}
        for service in SERVICES:
            mport = _metrics_port(stack, service)
            status, body = _get(mport, "/readyz")
            assert status == 200, (service, body)
            assert json.loads(body)["checks"]["nats"] == "ok"
            status, metrics[service] = _get(mport, "/metrics")
            assert status == 200
        assert (
            'sb_messages_in_total{content_type="xmtp.org/text",service="router-echo",stream="SB_EV"}'
            in metrics["router"]
        )
        assert "sb_handler_seconds_bucket" in metrics["crypto"]
        assert 'sb_intents_total{state="accepted"}' in metrics["publisher"]
        assert 'sb_intents_by_state{agent="echo",state="ToPublish"}' in metrics["crypto"]
        assert "sb_consumer_lag" in metrics["publisher"]
        assert json.loads(_get(_metrics_port(stack, "crypto"), "/readyz")[1])["checks"]["postgres"] == "ok"
        await asyncio.sleep(0.5)
    logs = {path.name: path.read_text(errors="replace") for path in stack.logs.glob("*.log")}

    for secret in secrets_seen:
        for service, name, _, attrs in spans.spans:
            assert secret not in name and all(secret not in v for v in attrs.values()), (service, name)
        for service, body in metrics.items():
            assert secret not in body, service
        for log_name, text in logs.items():
            assert secret not in text, log_name
    # Structured logs: every line a JSON object (trace ids inside spans: tests/telemetry).
    lines = [line for text in logs.values() for line in text.splitlines() if line.startswith("{")]
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
