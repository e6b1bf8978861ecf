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
"""

from __future__ import annotations

import asyncio
import logging

from nats.js import JetStreamContext
from xmtp_core import telemetry
from xmtp_core.bus import subjects
from xmtp_core.bus.runner import Meta, PartitionedConsumer, Poison, Transient
from xmtp_core.bus.schemas import PublishRequest, PublishResult, dump
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import PUB, RES
from xmtp_core.node import Backoff, BackoffPolicy, NodeClient, NodeError
from xmtp_core.untrusted import clean_error

log = logging.getLogger(__name__)

DURABLE = "publisher"
RETRY = BackoffPolicy(initial_s=0.2, maximum_s=5.0, max_retries=5)


async def send(node: NodeClient, request: PublishRequest, policy: BackoffPolicy = RETRY) -> PublishResult:
    """Send one build to the node: `accepted`, `permanent` (refused), or `Transient` when retries ran out."""
    backoff = Backoff(policy)
    attempts = 0
    while True:
        attempts += 1
        try:
            if request.kind == "group_message":
                await node.send_group_messages(request.node_group_messages())
            else:
                await node.send_welcome_messages(request.node_welcomes())
        except NodeError as exc:
            delay = backoff.next_delay() if exc.retryable else None
            if exc.retryable and delay is None:
                raise Transient(clean_error(exc)) from None
            if delay is None:
                return _result(request, "permanent", attempts, clean_error(exc))
            await asyncio.sleep(delay)
            continue
        return _result(request, "accepted", attempts, None)


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
        self, node: NodeClient, js: JetStreamContext, settings: BusSettings, *, policy: BackoffPolicy = RETRY
    ) -> None:
        self._node = node
        self._js = js
        self._policy = policy
        self.consumer: PartitionedConsumer[PublishRequest] = PartitionedConsumer(
            js, PUB, DURABLE, PublishRequest, self.handle, settings, dlq_hop="publisher"
        )

    async def run(self) -> None:
        await self.consumer.run()

    async def handle(self, request: PublishRequest, meta: Meta) -> None:
        if (request.agent, request.conv) != (meta.agent, meta.conv):
            raise Poison("the request's agent / conversation differ from its subject's")
        result = await send(self._node, request, self._policy)
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
