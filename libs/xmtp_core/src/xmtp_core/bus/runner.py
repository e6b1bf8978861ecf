"""`PartitionedConsumer`: the one way services consume a partitioned stream (crypto on SB_IN, router on SB_EV,
the publisher on SB_PUB, crypto on SB_RES).

    async def handle(envelope: InboundEnvelope, meta: Meta) -> None:
        ...  # raise Transient to retry later; any other exception counts towards the dead-letter queue

    consumer = PartitionedConsumer(js, IN, "crypto", InboundEnvelope, handle, settings)
    await consumer.run()  # until cancelled

Every replica of a service runs the same consumer with the same `durable` name; per partition there is one
durable pull consumer with `max_ack_pending=1`, so at most one message of a partition is out at a time, in
stream order, whoever pulls it. One task per partition pulls, runs the handler and acks after it returns: the
in-flight bound of a replica is one message per partition, and at that bound nothing more is fetched (the
messages wait in the stream: backpressure, never a drop).

- `Transient` -> nak with a delay growing with the delivery count (capped); never dead-lettered.
- any other exception -> nak with `nak_delay_s`; on delivery `max_deliver` the message goes to `sb.dlq.<hop>`
  with the cleaned reason and is terminated, and the partition goes on.
- a payload that does not parse, or a handler raising `Poison` -> dead letter at once (a retry cannot fix it).
- a message delivered more than `max_redeliveries` times (the handler crashed the process, or kept raising
  `Transient`) -> dead letter before the handler runs.
- cancelled mid-handler -> nak at once (best effort) so another replica takes the message; a replica that dies
  without a word loses it after `ack_wait_s` (the server redelivers it). While a handler runs, the message's
  ack deadline is pushed back (`in_progress`) every `ack_wait_s / 3`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import Error as JetStreamError

from xmtp_core import telemetry
from xmtp_core.bus import subjects
from xmtp_core.bus.schemas import DeadLetter, SchemaError, dump, parse
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import DLQ, StreamSpec, partition_consumer
from xmtp_core.cancellation import raise_if_cancelling
from xmtp_core.untrusted import clean, clean_error

log = logging.getLogger(__name__)
T = TypeVar("T")

_MAX_TRANSIENT_DELAY_S = 30.0


class Transient(Exception):
    """Raised by a handler: the failure may pass (node or Postgres down); retry the message later."""


class Poison(Exception):
    """Raised by a handler: no retry can help (the message contradicts itself); dead-letter it at once."""


@dataclass(frozen=True)
class Meta:
    """Where a message came from: its stored subject's tokens, stream position and delivery count."""

    subject: str
    agent: str
    conv: str
    rest: str  # tokens after the conversation (the event kind on SB_EV), "" elsewhere
    partition: int
    stream_seq: int
    num_delivered: int
    msg_id: str | None


Handler = Callable[[T, Meta], Awaitable[None]]


class PartitionedConsumer(Generic[T]):
    """Pulls every partition of `spec` concurrently (one message per partition in flight) into `handler`."""

    def __init__(
        self,
        js: JetStreamContext,
        spec: StreamSpec,
        durable: str,
        model: Any,
        handler: Handler[T],
        settings: BusSettings,
        *,
        partitions: Iterable[int] | None = None,
        dlq_hop: str | None = None,
        fetch_timeout_s: float = 5.0,
    ) -> None:
        if not spec.partitioned:
            raise ValueError(f"{spec.name} is not partitioned")
        subjects.agent_token(durable)  # the durable name is a token too: no dots or wildcards
        self._js = js
        self._spec = spec
        self._durable = durable
        self._model = model
        self._handler = handler
        self._settings = settings
        self._partitions = sorted(set(partitions if partitions is not None else range(settings.partitions)))
        self._dlq_subject = subjects.dead_letter(dlq_hop or durable.replace("-", "").replace("_", "")[:16] or "bus")
        self._fetch_timeout_s = fetch_timeout_s
        self.handled = 0  # messages acked after the handler returned
        self.dead_lettered = 0

    async def ensure_consumers(self) -> None:
        for p in self._partitions:
            config = partition_consumer(self._spec, self._durable, p, self._settings)
            # The server's consumer-create call updates an existing durable's editable fields (nats-server >= 2.10).
            await self._js.add_consumer(self._spec.name, config)

    async def run(self) -> None:
        """Consume until cancelled; one task per partition."""
        await self.ensure_consumers()
        async with asyncio.TaskGroup() as group:
            for p in self._partitions:
                group.create_task(self._partition_loop(p), name=f"{self._durable}-{p}")

    async def _partition_loop(self, partition: int) -> None:
        sub = await self._js.pull_subscribe_bind(durable=f"{self._durable}-{partition}", stream=self._spec.name)
        try:
            while True:
                try:
                    msgs = await sub.fetch(1, timeout=self._fetch_timeout_s)
                    for msg in msgs:
                        await self._one(partition, msg)
                except (TimeoutError, NatsTimeoutError, NatsError, JetStreamError) as exc:
                    raise_if_cancelling()  # nats-py's fetch can turn a cancellation into one of these
                    if isinstance(exc, TimeoutError | NatsTimeoutError):
                        continue
                    # The connection is reconnecting (or an ack/nak/DLQ publish failed): the message is redelivered
                    # after ack_wait, so the partition just waits and pulls again.
                    log.warning("%s partition %d: %s; pulling again", self._spec.name, partition, clean_error(exc))
                    await asyncio.sleep(self._fetch_timeout_s / 5)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _one(self, partition: int, msg: Msg) -> None:
        md = msg.metadata
        seq = md.sequence.stream if md.sequence else 0
        delivered = md.num_delivered or 1
        msg_id = msg.headers.get(subjects.MSG_ID_HEADER) if msg.headers else None
        try:
            agent, conv, rest = subjects.parse_stored(msg.subject)
            value = parse(self._model, msg.data)
        except (SchemaError, subjects.SubjectError) as exc:
            await self._dead_letter(msg, f"invalid payload: {exc}", seq, msg_id, delivered)
            return
        if delivered > self._settings.max_redeliveries:
            await self._dead_letter(msg, f"delivered {delivered} times", seq, msg_id, delivered)
            return
        meta = Meta(msg.subject, agent, conv, rest, partition, seq, delivered, msg_id)
        if md.num_pending is not None:
            telemetry.CONSUMER_LAG.labels(f"{self._durable}-{partition}", self._spec.name).set(md.num_pending)
        telemetry.MESSAGES_IN.labels(
            self._durable, self._spec.name, telemetry.content_label(getattr(value, "content_type", None))
        ).inc()
        with telemetry.consumer_span(
            self._spec.name,
            msg.headers,
            remember_as=msg_id,
            **{"messaging.consumer.group.name": self._durable, "sb.partition": partition, "sb.stream_seq": seq},
        ) as span:
            timer = telemetry.Timer()
            try:
                await self._handle(msg, value, meta, seq, msg_id, delivered, span)
            finally:
                telemetry.HANDLER_SECONDS.labels(self._durable, self._spec.name).observe(timer.elapsed())

    async def _handle(
        self, msg: Msg, value: Any, meta: Meta, seq: int, msg_id: str | None, delivered: int, span: Any
    ) -> None:
        heartbeat = asyncio.create_task(self._keep_alive(msg))
        try:
            await self._handler(value, meta)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(msg.nak())
            raise
        except Poison as exc:
            telemetry.record_error(span, exc)
            await self._dead_letter(msg, clean_error(exc), seq, msg_id, delivered)
            return
        except Transient as exc:
            delay = min(_MAX_TRANSIENT_DELAY_S, self._settings.nak_delay_s * 2 ** min(delivered - 1, 10))
            log.info("%s seq %d: transient failure (%s); retry in %.1fs", self._spec.name, seq, clean_error(exc), delay)
            await msg.nak(delay=delay)
            return
        except Exception as exc:
            telemetry.record_error(span, exc)
            reason = clean_error(exc)
            if delivered >= self._settings.max_deliver:
                await self._dead_letter(msg, reason, seq, msg_id, delivered)
            else:
                log.warning("%s seq %d delivery %d failed: %s", self._spec.name, seq, delivered, reason)
                await msg.nak(delay=self._settings.nak_delay_s)
            return
        finally:
            heartbeat.cancel()
        await msg.ack()
        self.handled += 1

    async def _keep_alive(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self._settings.ack_wait_s / 3)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _dead_letter(self, msg: Msg, reason: str, seq: int, msg_id: str | None, delivered: int) -> None:
        letter = DeadLetter.build(
            self._dlq_subject.rsplit(".", 1)[1],
            reason,
            msg.data,
            stream=self._spec.name,
            stream_seq=seq,
            msg_id=msg_id,
            subject=msg.subject,
            deliveries=delivered,
        )
        # The DLQ entry is keyed by the original's stream position: a crash before the term() re-sends a duplicate.
        headers = {subjects.MSG_ID_HEADER: f"dlq:{self._spec.name}:{seq}"}
        await self._js.publish(self._dlq_subject, dump(letter), stream=DLQ.name, headers=headers)
        await msg.term()
        self.dead_lettered += 1
        telemetry.DEAD_LETTERS.labels(self._dlq_subject.rsplit(".", 1)[1]).inc()
        log.warning("%s seq %d dead-lettered: %s", self._spec.name, seq, clean(reason))
