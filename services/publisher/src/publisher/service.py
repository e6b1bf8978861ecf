"""Publisher: one build of an intent from SB_PUB to the node, its result to SB_RES, then the ack.

A `PublishRequest` is sent with `NodeClient.send_group_messages` / `send_welcome_messages`; node errors that
may pass (`NodeError.retryable`) are retried in place with backoff, and when that budget is spent the message is
nak'ed (`Transient`) and retried later: the partition waits, so a conversation's sends never overtake each other.
A refusal is a `permanent` result at once (never retried). The result goes to `sb.res.<agent>.<conv>` with
`Nats-Msg-Id` `res:<intent id>:<build>`, and only after its PubAck is the request acked.

Redelivery (a publisher killed between the send and the ack) sends the same bytes again: the node keeps one copy
of identical envelopes, and the repeated result has the same msg id, so the stream drops it. An intent is thus
published at most once per build; a rebuild is a new build (new msg ids), which is crypto's to make.
Results are `accepted` or `permanent`; `transient` is reserved for a publisher that stops retrying a build and
hands it back to crypto (not done today: retrying keeps the conversation's order).

Pacing (`xmtp_core.node.pacing`): every attempt first waits for a slot of the agent's write pacer, so one
installation never exceeds the network's write limit (3,000 per rolling 5 minutes by default, `SB_WRITES_PER_
WINDOW` / `SB_RATE_WINDOW_S`); the wait is a delay, the message stays in flight (its ack deadline kept alive by
the consumer) and the partition waits behind it. Partitions of one agent share its pacer. Replicas share the
limit by division: with R publisher replicas set `SB_WRITE_SHARE=R` and each paces at limit / R (a JetStream KV
counter would let one replica use another's unused share, at two KV round trips per write and a NATS
permission the publisher does not have; the division needs neither). Crypto writes for the same installation
too, but only key packages and identity updates (a few per key-package lifetime), inside the 1% margin
`RateLimit` keeps. A 429 that still comes (a restart forgot the window, a wrong share) holds the agent's
pacer for the server's `retry-after` hint (or a backoff, whichever is longer) and the attempt is retried in
place, not counted against the transient budget; only after `RATE_LIMIT_PATIENCE_S` of 429s is the message
nak'ed (`Transient`) to come back later. Never dropped. Seconds waited are counted per agent in
`sb_write_pacing_wait_seconds_total`, 429s in `sb_node_rate_limited_total`.
"""

from __future__ import annotations

import asyncio
import logging

from nats.js import JetStreamContext
from prometheus_client import Counter
from xmtp_core import telemetry
from xmtp_core.bus import subjects
from xmtp_core.bus.runner import Meta, PartitionedConsumer, Poison, Transient
from xmtp_core.bus.schemas import PublishRequest, PublishResult, dump
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import PUB, RES
from xmtp_core.node import Backoff, BackoffPolicy, NodeClient, NodeError, Pacer, Pacers, PacingEnvSettings, RateLimit
from xmtp_core.untrusted import clean_error

log = logging.getLogger(__name__)

DURABLE = "publisher"
RETRY = BackoffPolicy(initial_s=0.2, maximum_s=5.0, max_retries=5)
# After a 429 without a usable hint: 1 s, doubling to a minute (a window's slice frees in seconds to minutes).
RATE_LIMITED = BackoffPolicy(initial_s=1.0, maximum_s=60.0, jitter=0.2)
RATE_LIMIT_PATIENCE_S = 600.0  # of 429s in place before the message is handed back (nak) to come again later

WRITE_WAIT = Counter(
    "sb_write_pacing_wait", "Seconds sends waited for their agent's write pacer (the node's rate limit)", ["agent"]
)
RATE_LIMITED_TOTAL = Counter("sb_node_rate_limited", "Node calls answered RESOURCE_EXHAUSTED (429)", ["agent"])


def write_pacers(limit: RateLimit | None) -> Pacers:
    """One write pacer per agent at `limit` (None: no pacing), its waits counted in `WRITE_WAIT`."""
    return Pacers(limit, on_wait=lambda agent, s: WRITE_WAIT.labels(agent).inc(s))


async def _write(node: NodeClient, request: PublishRequest) -> None:
    if request.kind == "group_message":
        await node.send_group_messages(request.node_group_messages())
    else:
        await node.send_welcome_messages(request.node_welcomes())


async def send(
    node: NodeClient, request: PublishRequest, policy: BackoffPolicy = RETRY, pacer: Pacer | None = None
) -> PublishResult:
    """Send one build to the node: `accepted`, `permanent` (refused), or `Transient` when retries ran out.
    Each attempt waits for a slot of `pacer` (the agent's write pacer) first."""
    backoff, limited = Backoff(policy), _RateLimited(request.agent, pacer)
    attempts = 0
    while True:
        attempts += 1
        if pacer is not None:
            await pacer.acquire()
        try:
            await _write(node, request)
        except NodeError as exc:
            if exc.rate_limited:
                await limited.wait(exc)
                continue
            delay = backoff.next_delay() if exc.retryable else None
            if exc.retryable and delay is None:
                raise Transient(clean_error(exc)) from None
            if delay is None:
                return _result(request, "permanent", attempts, clean_error(exc))
            await asyncio.sleep(delay)
            continue
        return _result(request, "accepted", attempts, None)


class _RateLimited:
    """429s of one send: each holds the agent's pacer for the server's hint or the backoff, whichever is longer
    (so its other conversations wait too), and sleeps that long; past the patience the message goes back."""

    def __init__(self, agent: str, pacer: Pacer | None) -> None:
        self._agent = agent
        self._pacer = pacer
        self._backoff = Backoff(RATE_LIMITED)
        self._waited = 0.0

    async def wait(self, exc: NodeError) -> None:
        RATE_LIMITED_TOTAL.labels(self._agent).inc()
        delay = max(exc.retry_after_s or 0.0, self._backoff.next_delay() or 0.0)
        if self._waited + delay > RATE_LIMIT_PATIENCE_S:
            raise Transient(clean_error(exc)) from None
        self._waited += delay
        log.info("agent %s rate limited by the node; retrying in %.2fs", self._agent, delay)
        if self._pacer is not None:
            self._pacer.hold(delay)  # the next acquire waits it out, for every conversation of the agent
        else:
            await asyncio.sleep(delay)


def _result(request: PublishRequest, status: str, attempts: int, error: str | None) -> PublishResult:
    return PublishResult.model_validate(
        {
            "agent": request.agent,
            "conv": request.conv,
            "intent_id": request.intent_id,
            "build": request.build,
            "status": status,
            "attempts": attempts,
            "error": error,
        }
    )


class Publisher:
    """Consumes every partition of SB_PUB (one durable per partition, shared by all publisher replicas)."""

    def __init__(
        self,
        node: NodeClient,
        js: JetStreamContext,
        settings: BusSettings,
        *,
        policy: BackoffPolicy = RETRY,
        pacers: Pacers | None = None,
    ) -> None:
        self._node = node
        self._js = js
        self._policy = policy
        # Bounded by construction: one per agent of the deployment (SB_AGENTS), and by MAX_PACED_KEYS anyway.
        self.pacers = pacers if pacers is not None else write_pacers(PacingEnvSettings().to_config().writes)
        self.consumer: PartitionedConsumer[PublishRequest] = PartitionedConsumer(
            js, PUB, DURABLE, PublishRequest, self.handle, settings, dlq_hop="publisher"
        )

    async def run(self) -> None:
        await self.consumer.run()

    async def handle(self, request: PublishRequest, meta: Meta) -> None:
        if (request.agent, request.conv) != (meta.agent, meta.conv):
            raise Poison("the request's agent / conversation differ from its subject's")
        result = await send(self._node, request, self._policy, self.pacers.get(request.agent))
        if result.status != "accepted":
            log.warning("intent %s build %d refused by the node: %s", request.intent_id, request.build, result.error)
        await self.report(result)

    async def report(self, result: PublishResult) -> None:
        headers = {subjects.MSG_ID_HEADER: result.msg_id}
        telemetry.INTENTS.labels(result.status).inc()
        with telemetry.producer_span(RES.name, headers):
            await self._js.publish(
                subjects.result(result.agent, result.conv), dump(result), stream=RES.name, headers=headers
            )
