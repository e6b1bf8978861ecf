"""Traces, metrics and structured logs of the services, configured by the standard `OTEL_*` variables.

- Traces: `service("crypto")` installs a tracer provider (resource `service.name`, `OTEL_RESOURCE_ATTRIBUTES`),
  the exporter `OTEL_TRACES_EXPORTER` names (`otlp` over gRPC to `OTEL_EXPORTER_OTLP_ENDPOINT`, `console`, or
  `none`, the default: `make run` and the tests send nowhere unless asked) and the official asyncpg and gRPC
  client instrumentations; with no exporter, neither a provider nor the instrumentations (spans cost CPU:
  one per Postgres statement). Context crosses every NATS hop in the W3C `traceparent` header: publishers call
  `producer_span` (which injects it), `bus.runner.PartitionedConsumer` and crypto's command consumer open a
  `consumer_span` from it, so one inbound message is one trace from ingest to the publisher.
- Crypto writes the events an envelope produced to its outbox and a separate task relays them; the consumer
  span of each SB_IN message is remembered under its `Nats-Msg-Id` (which prefixes the outbox event ids, see
  `runtime.outbox.event_id`) in a bounded map, and the relay continues that trace (`continue_trace`). A relay
  by another replica, or after a restart, starts a new trace: the bus never waits for telemetry.
- Metrics: Prometheus counters and histograms in the default registry, served on `/metrics` by
  `xmtp_core.health`. Labels are only ever service / stream / hop names, states, and content types from a
  fixed list of known ones (an attacker's content type becomes `other`): never message text, ids or keys.
- Logs: `JsonFormatter` writes one JSON object per line with the trace and span ids. Log messages are written
  by our code with attacker text cleaned (`xmtp_core.untrusted`); span attributes carry only subjects' stream
  names, partitions and sequence numbers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)

TRACER_NAME: Final = "switchboard"

# --- metrics (one definition per process; labels are bounded, see the module docstring) ---

MESSAGES_IN = Counter(
    "sb_messages_in", "Messages a service consumed from a stream", ["service", "stream", "content_type"]
)
MESSAGES_OUT = Counter(
    "sb_messages_out", "Messages a service published to a stream", ["service", "stream", "content_type"]
)
HANDLER_SECONDS = Histogram(
    "sb_handler_seconds",
    "Time a consumer's handler took for one message",
    ["service", "stream"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "sb_consumer_lag", "Messages waiting behind the last one delivered (JetStream num_pending)", ["durable", "stream"]
)
INTENTS = Counter("sb_intents", "Publish results of intents, by the state the node left them in", ["state"])
DEAD_LETTERS = Counter("sb_dead_letters", "Messages dead-lettered, by hop", ["hop"])
INTENTS_BY_STATE = Gauge(
    "sb_intents_by_state", "Intents in each state, per agent (crypto counts them)", ["agent", "state"]
)

# Content types worth a label of their own (XMTP's standard codecs); anything else is `other`.
KNOWN_CONTENT_TYPES: Final = frozenset(
    f"xmtp.org/{name}"
    for name in (
        "text",
        "markdown",
        "reaction",
        "reply",
        "readReceipt",
        "attachment",
        "remoteStaticAttachment",
        "multiRemoteStaticAttachment",
        "transactionReference",
        "walletSendCalls",
        "group_updated",
        "groupUpdated",
        "leave_request",
        "intent",
        "actions",
    )
)
_COMMAND_TYPES: Final = frozenset({"text", "markdown", "reaction", "reply", "attachment"})


def content_label(content_type: object) -> str:
    """A metric label for a content type: `authority/type` when it is a known one, else `other`."""
    if not isinstance(content_type, str):
        return "none"
    if content_type in _COMMAND_TYPES:
        return content_type
    base = content_type.split(":", 1)[0]
    return base if base in KNOWN_CONTENT_TYPES else "other"


# --- trace context across NATS ---

_REMEMBERED_MAX: Final = 10_000
_remembered: OrderedDict[str, trace.SpanContext] = OrderedDict()


def tracer() -> trace.Tracer:
    """The tracer every Switchboard span comes from."""
    return trace.get_tracer(TRACER_NAME)


def inject(headers: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Add the current trace context (`traceparent`, `tracestate`) to NATS headers."""
    propagate.inject(headers)
    return headers


def _extract(headers: Mapping[str, str] | None) -> otel_context.Context:
    # The propagator parses the header itself and ignores a malformed one (a hostile publisher cannot do more
    # than start a trace of its own choosing).
    carrier = {k: v for k, v in (headers or {}).items() if k in ("traceparent", "tracestate") and len(v) <= 512}
    return propagate.extract(carrier)


@contextlib.contextmanager
def producer_span(stream: str, headers: MutableMapping[str, str], **attributes: Any) -> Iterator[trace.Span]:
    """A PRODUCER span `<stream> publish` around a publish; its context goes into `headers`."""
    with tracer().start_as_current_span(
        f"{stream} publish",
        kind=SpanKind.PRODUCER,
        attributes={"messaging.system": "nats", "messaging.destination.name": stream, **attributes},
        record_exception=False,  # an exception's text may quote attacker input or plaintext
        set_status_on_exception=False,
    ) as span:
        inject(headers)
        yield span


@contextlib.contextmanager
def consumer_span(
    stream: str, headers: Mapping[str, str] | None, *, remember_as: str | None = None, **attributes: Any
) -> Iterator[trace.Span]:
    """A CONSUMER span `<stream> process` in the trace the message's headers carry (a new one without)."""
    with tracer().start_as_current_span(
        f"{stream} process",
        context=_extract(headers),
        kind=SpanKind.CONSUMER,
        attributes={"messaging.system": "nats", "messaging.destination.name": stream, **attributes},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        if remember_as:
            _remember(remember_as, span.get_span_context())
        yield span


def _remember(key: str, ctx: trace.SpanContext) -> None:
    if not ctx.is_valid or len(key) > 512:
        return
    _remembered[key] = ctx
    _remembered.move_to_end(key)
    while len(_remembered) > _REMEMBERED_MAX:
        _remembered.popitem(last=False)


@contextlib.contextmanager
def continue_trace(key: str) -> Iterator[None]:
    """Run the block in the trace remembered under `key` (see the module docstring), if this process has it."""
    ctx = _remembered.get(key)
    if ctx is None:
        yield
        return
    token = otel_context.attach(trace.set_span_in_context(trace.NonRecordingSpan(ctx)))
    try:
        yield
    finally:
        otel_context.detach(token)


def record_error(span: trace.Span, exc: BaseException) -> None:
    """Mark a span failed with the exception's type only: its text may quote attacker input or plaintext."""
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


class Timer:
    """Seconds since creation (handler latency)."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self._start


# --- logs ---


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the current trace / span ids."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            out["trace_id"] = format(ctx.trace_id, "032x")
            out["span_id"] = format(ctx.span_id, "016x")
        if record.exc_info and record.exc_info[0] is not None:
            out["exc_type"] = record.exc_info[0].__name__  # never the traceback's locals or message
        return json.dumps(out, ensure_ascii=False)


def _use_json_logs(service: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter(service))


# --- setup ---


def _exporter(name: str) -> SpanExporter | None:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT / _HEADERS / _INSECURE
    if name == "console":
        return ConsoleSpanExporter(out=sys.stderr)
    if name not in ("", "none"):
        log.warning(
            "OTEL_TRACES_EXPORTER=%s is not supported (otlp, console, none): traces are not exported", name[:32]
        )
    return None


_provider: TracerProvider | None = None
_set_up = False


def setup(service_name: str, environ: Mapping[str, str] | None = None) -> TracerProvider | None:
    """Configure this process's tracing, instrumentations and log format once.

    Without an exporter (`OTEL_TRACES_EXPORTER` unset or `none`) no SDK provider is installed and nothing is
    instrumented: the API's default tracer makes non-recording spans that only pass an incoming `traceparent`
    on, so a deployment that exports nothing pays for no span per statement (`bench/README.md`, e2e section).
    Returns the provider installed, or None without one; later calls return the first call's answer.
    """
    global _provider, _set_up
    if _set_up:
        return _provider
    env = os.environ if environ is None else environ
    if env.get("SB_LOG_FORMAT", "json") == "json":
        _use_json_logs(service_name)
    exporters = [e for n in env.get("OTEL_TRACES_EXPORTER", "none").split(",") if (e := _exporter(n.strip().lower()))]
    _set_up = True
    if not exporters:
        return None
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME") or f"switchboard-{service_name}"})
    resource = resource.merge(OTELResourceDetector().detect())
    provider = TracerProvider(resource=resource)
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _instrument()
    _provider = provider
    return provider


def _instrument() -> None:
    # asyncpg: spans per query (statement text only: values are bind parameters, never in the span).
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient

    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    GrpcAioInstrumentorClient().instrument()  # type: ignore[no-untyped-call]


def shutdown() -> None:
    """Flush and stop the exporters (at the end of `service`)."""
    global _provider, _set_up
    if _provider is not None:
        _provider.shutdown()
        _provider = None
    _set_up = False


@contextlib.contextmanager
def service(service_name: str) -> Iterator[TracerProvider | None]:
    """Telemetry for the duration of a service's `serve`: set up, and flushed at the end."""
    provider = setup(service_name)
    try:
        yield provider
    finally:
        shutdown()


__all__ = [
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "HANDLER_SECONDS",
    "INTENTS",
    "INTENTS_BY_STATE",
    "MESSAGES_IN",
    "MESSAGES_OUT",
    "JsonFormatter",
    "Timer",
    "consumer_span",
    "content_label",
    "continue_trace",
    "inject",
    "producer_span",
    "record_error",
    "service",
    "setup",
    "shutdown",
    "tracer",
]
