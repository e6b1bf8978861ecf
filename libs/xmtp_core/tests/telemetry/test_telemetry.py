"""Trace context across NATS headers, bounded metric labels and the remembered-trace map, JSON logs with trace
ids, and failed spans that carry no exception text."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from xmtp_core import telemetry


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    out = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):  # set once per process: reuse one another test installed
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(out))
    return out


def test_context_crosses_headers(exporter: InMemorySpanExporter) -> None:
    headers: dict[str, str] = {"Nats-Msg-Id": "x"}
    with telemetry.producer_span("SB_IN", headers) as producer:
        pass
    assert headers["traceparent"].split("-")[1] == format(producer.get_span_context().trace_id, "032x")
    with telemetry.consumer_span("SB_IN", headers, remember_as="group:ab:1") as consumer:
        assert consumer.get_span_context().trace_id == producer.get_span_context().trace_id
    with telemetry.continue_trace("group:ab:1"), telemetry.producer_span("SB_EV", {}) as relayed:
        assert relayed.get_span_context().trace_id == producer.get_span_context().trace_id
    with telemetry.continue_trace("unknown"), telemetry.producer_span("SB_EV", {}) as fresh:
        assert fresh.get_span_context().trace_id != producer.get_span_context().trace_id


@pytest.mark.parametrize(
    "hostile", ["garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01", "00-" + "a" * 5000, "\x00\n", ""]
)
def test_a_hostile_traceparent_starts_a_new_trace(exporter: InMemorySpanExporter, hostile: str) -> None:
    with telemetry.consumer_span("SB_IN", {"traceparent": hostile, "tracestate": hostile}) as span:
        assert span.get_span_context().is_valid


def test_remembered_traces_are_bounded(exporter: InMemorySpanExporter) -> None:
    for i in range(telemetry._REMEMBERED_MAX + 50):
        with telemetry.consumer_span("SB_IN", None, remember_as=f"k{i}"):
            pass
    assert len(telemetry._remembered) == telemetry._REMEMBERED_MAX
    assert "k0" not in telemetry._remembered and f"k{telemetry._REMEMBERED_MAX + 49}" in telemetry._remembered


def test_failed_span_keeps_no_exception_text(exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    with telemetry.consumer_span("SB_EV", None) as span:
        telemetry.record_error(span, ValueError("plaintext: hello secret"))
    with pytest.raises(RuntimeError), telemetry.consumer_span("SB_EV", None):
        raise RuntimeError("plaintext: hello secret")
    for done in exporter.get_finished_spans():
        assert "secret" not in str(done.status.description) and not done.events


def test_content_labels_are_a_fixed_set() -> None:
    assert telemetry.content_label("xmtp.org/text:1.0") == "xmtp.org/text"
    assert telemetry.content_label("xmtp.org/reaction:2.0") == "xmtp.org/reaction"
    assert telemetry.content_label("text") == "text"
    assert telemetry.content_label("evil.com/hello secret:1.0") == "other"
    assert telemetry.content_label("x" * 10_000) == "other"
    assert telemetry.content_label(None) == "none"


def test_json_logs_carry_trace_ids(exporter: InMemorySpanExporter) -> None:
    formatter = telemetry.JsonFormatter("crypto")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "handled %d", (3,), None)
    assert "trace_id" not in json.loads(formatter.format(record))
    with telemetry.consumer_span("SB_IN", None) as span:
        line = json.loads(formatter.format(record))
    assert line["msg"] == "handled 3" and line["service"] == "crypto"
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    try:
        raise ValueError("secret detail")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = json.loads(formatter.format(record))
    assert line["exc_type"] == "ValueError" and "secret" not in json.dumps(line)


def test_no_exporter_means_no_provider_and_no_statement_spans() -> None:
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    assert telemetry.setup("crypto", {"OTEL_TRACES_EXPORTER": "none", "SB_LOG_FORMAT": "text"}) is None
    try:
        assert not AsyncPGInstrumentor().is_instrumented_by_opentelemetry
        # The API's default tracer still passes an incoming trace on (what a no-exporter hop does).
        parent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
        with trace.NoOpTracer().start_as_current_span("x", context=telemetry._extract({"traceparent": parent})):
            headers = telemetry.inject({})
        assert headers["traceparent"] == parent
    finally:
        telemetry.shutdown()
