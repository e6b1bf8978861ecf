"""Both ends of the request/reply hops, and event publishing: the code other services call instead of building
subjects, headers and message ids themselves.

- Commands (`sb.out.<agent>`, stream SB_OUT): `send_command` (any team) and `command_reply_to` /
  `answer_command` (crypto). The result goes to the sender's `Sb-Reply-To` inbox and into KV
  `sb_command_results`; a command whose PubAck says `duplicate` (same idempotency key) gets the stored result.
- Operations (`sb.ops.<agent>`, core NATS): `request_op` and `serve_ops` (crypto; queue group `crypto`).
- Events (`sb.ev.<agent>.<conv>.<kind>`, stream SB_EV): `event_subject`, `publish_event` (msg id = event id).

A command with plain nats-py (what another team writes; JSON as in `schemas.TextCommand`)::

    nc = await nats.connect(NATS_URL)
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, max_msgs=1)
    command = {"v": 1, "type": "text", "agent": "echo", "idempotency_key": "order-42", "to_inbox_id": ID, "text": "hi"}
    ack = await nc.jetstream().publish(
        "sb.out.echo", json.dumps(command).encode(), stream="SB_OUT",
        headers={"Nats-Msg-Id": "out:echo:order-42", "Sb-Reply-To": inbox},
    )
    # ack.duplicate: the key was used before; its result is in KV sb_command_results (see `stored_result`)
    result = json.loads((await sub.next_msg(timeout=30)).data)  # {"ok": true, "message_id": "...", ...}
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import KeyNotFoundError

from xmtp_core import telemetry
from xmtp_core.bus import kv as bus_kv
from xmtp_core.bus import subjects
from xmtp_core.bus.leader import while_no_leader
from xmtp_core.bus.schemas import (
    CommandResult,
    Event,
    JoinedEvent,
    MessageEvent,
    OpRequest,
    OpResponse,
    RejectedEvent,
    SchemaError,
    SentEvent,
    UpdatedEvent,
    dump,
    parse,
)
from xmtp_core.bus.streams import EV, OUT

log = logging.getLogger(__name__)

# A reply subject is chosen by the sender: a literal subject (no wildcards), bounded.
_REPLY_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}(?:\.[A-Za-z0-9_-]{1,64}){0,7}")
OPS_QUEUE: Final = "crypto"
NO_RESPONDERS_RETRY_S: Final = 0.5
RESULT_PUT_S: Final = 20.0  # a sender waits for its result longer than a cluster takes to elect a leader

Command = Any  # an instance of one of `schemas.OutboundCommand`'s members


class CommandTimeout(TimeoutError):
    """No result for the command within the timeout (crypto down, or still working on it)."""


async def send_command(nc: Client, command: Command, *, wait_s: float = 30.0) -> CommandResult:
    """Publish `command` to `sb.out.<agent>` and wait for its `CommandResult` (the stored one for a repeat)."""
    agent, key = command.agent, command.idempotency_key
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, max_msgs=1)
    try:
        headers = {subjects.MSG_ID_HEADER: subjects.outbound_msg_id(agent, key), subjects.REPLY_TO_HEADER: inbox}
        js, payload = nc.jetstream(), dump(command)
        with telemetry.producer_span(OUT.name, headers):
            ack = await while_no_leader(
                lambda: js.publish(subjects.outbound(agent), payload, stream=OUT.name, headers=headers), within=wait_s
            )
        telemetry.MESSAGES_OUT.labels("router", OUT.name, telemetry.content_label(command.type)).inc()
        if ack.duplicate:
            return await stored_result(nc.jetstream(), agent, key, wait_s=wait_s)
        try:
            msg = await sub.next_msg(timeout=wait_s)
        except Exception as exc:  # nats' TimeoutError
            raise CommandTimeout(f"no result for {agent}/{key} within {wait_s}s") from exc
        result: CommandResult = parse(CommandResult, msg.data)
        return result
    finally:
        await sub.unsubscribe()


async def stored_result(js: JetStreamContext, agent: str, key: str, *, wait_s: float = 30.0) -> CommandResult:
    """The result crypto stored for a command (waits for it, as the first copy may still be in progress)."""
    bucket = await js.key_value(subjects.KV_COMMAND_RESULTS)
    name = bus_kv.command_result_key(agent, key)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        try:
            entry = await bucket.get(name)
        except KeyNotFoundError:
            entry = None
        if entry is not None and entry.value:
            result: CommandResult = parse(CommandResult, entry.value)
            return result
        if loop.time() > deadline:
            raise CommandTimeout(f"no stored result for {agent}/{key} within {wait_s}s")
        await asyncio.sleep(0.1)


def command_reply_to(headers: Mapping[str, str] | None) -> str | None:
    """The `Sb-Reply-To` subject of a command, when it is a literal subject outside the bus's own (`sb.`) and the
    server's (`$`) namespaces: a core publish there would land in a stream. A hostile value is ignored."""
    value = (headers or {}).get(subjects.REPLY_TO_HEADER)
    if isinstance(value, str) and _REPLY_RE.fullmatch(value) and not value.startswith(subjects.PREFIX + "."):
        return value
    return None


async def answer_command(
    nc: Client, agent: str, idempotency_key: str | None, reply_to: str | None, result: CommandResult
) -> None:
    """Crypto's side: keep the result for repeats (when the command had a valid key), then reply."""
    payload = dump(result)
    if idempotency_key is not None:
        bucket = await nc.jetstream().key_value(subjects.KV_COMMAND_RESULTS)
        name = bus_kv.command_result_key(agent, idempotency_key)
        await while_no_leader(lambda: bucket.put(name, payload), within=RESULT_PUT_S)
    if reply_to is not None:
        await nc.publish(reply_to, payload)


class OpTimeout(TimeoutError):
    """No answer to an op within the timeout (no crypto replica up, or it is still working on it)."""


async def request_op(nc: Client, op: Any, *, wait_s: float = 30.0) -> OpResponse:
    """Send one `OpRequest` to `sb.ops.<agent>` and return crypto's `OpResponse`. While no crypto replica
    listens (restarting, or every replica down), the request is made again until `wait_s` is spent: a core
    request with no responders fails at once, and a caller should see a timeout it retries, not a failure."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    payload = dump(op)
    while True:
        left = deadline - loop.time()
        try:
            msg = await nc.request(subjects.ops(op.agent), payload, timeout=max(left, 0.001))
            break
        except NoRespondersError:
            if left <= NO_RESPONDERS_RETRY_S:
                raise OpTimeout(f"no crypto replica answered {op.op} for {op.agent} within {wait_s}s") from None
            await asyncio.sleep(NO_RESPONDERS_RETRY_S)
        except NatsTimeoutError:
            raise OpTimeout(f"no answer to {op.op} for {op.agent} within {wait_s}s") from None
    response: OpResponse = parse(OpResponse, msg.data)
    return response


OpHandler = Callable[[Any], Awaitable[OpResponse]]


async def serve_ops(nc: Client, agent: str, handler: OpHandler) -> Subscription:
    """Answer `sb.ops.<agent>` (queue group `crypto`, so replicas share the load). An invalid request gets an
    `invalid_request` answer; a handler failure `internal` with the exception's type only (its text may quote
    plaintext)."""

    async def on_request(msg: Msg) -> None:
        if not msg.reply:
            return
        try:
            request = parse(OpRequest, msg.data)
        except SchemaError as exc:
            response = OpResponse(op="unknown", ok=False, error="invalid_request", detail=exc.reason)
        else:
            if request.agent != agent:
                response = OpResponse(op=request.op, ok=False, error="invalid_request", detail="agent mismatch")
            else:
                try:
                    response = await handler(request)
                except Exception as exc:
                    log.warning("sb.ops.%s %s failed: %s", agent, request.op, type(exc).__name__)
                    response = OpResponse(op=request.op, ok=False, error="internal", detail=type(exc).__name__)
        await msg.respond(dump(response))

    return await nc.subscribe(subjects.ops(agent), queue=OPS_QUEUE, cb=on_request)


def event_subject(event: Any) -> str:
    """`sb.ev.<agent>.<conv>.<kind>` of an event."""
    conv: str
    if isinstance(event, MessageEvent | SentEvent):
        conv = "g" + event.conversation_id
    elif isinstance(event, JoinedEvent | UpdatedEvent):
        conv = "g" + event.conversation.conversation_id
    elif isinstance(event, RejectedEvent):
        conv = event.conv
    else:
        raise TypeError("not a bus event")
    return subjects.event(event.agent, conv, event.kind)


async def publish_event(js: JetStreamContext, event: Any) -> PubAck:
    """Publish an outbox event; a republish (same event id) is dropped by the stream (`PubAck.duplicate`)."""
    headers = {subjects.MSG_ID_HEADER: event.event_id}
    with telemetry.producer_span(EV.name, headers, **{"sb.event_kind": event.kind}):
        ack: PubAck = await js.publish(event_subject(event), dump(event), stream=EV.name, headers=headers)
    telemetry.MESSAGES_OUT.labels(
        "crypto", EV.name, telemetry.content_label(getattr(event, "content_type", None))
    ).inc()
    return ack


__all__ = [
    "OPS_QUEUE",
    "CommandTimeout",
    "Event",
    "OpTimeout",
    "answer_command",
    "command_reply_to",
    "event_subject",
    "publish_event",
    "request_op",
    "send_command",
    "serve_ops",
    "stored_result",
]
