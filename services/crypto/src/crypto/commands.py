"""Outbound commands (SB_OUT): the router's sends and any other team's, one JSON command each.

A command names an agent, a target (a conversation id, or an inbox id / address to DM) and an idempotency key.
Crypto turns it into a message intent whose PlaintextEnvelope idempotency key is the command's key, so the
message id is a function of (conversation, key, content): a command delivered twice (a crash before its ack,
a sender that retried) finds its message already stored and sends nothing new. The `CommandResult` goes to
the subject in the command's `Sb-Reply-To` header and into KV `sb_command_results` (where a sender whose
publish was dropped as a duplicate finds it). An invalid command gets an error result and a dead letter.

Commands are consumed by a shared durable, up to `CONCURRENCY` at a time per replica, so conversations go out in
parallel; two commands for one conversation from different senders are not ordered between them (the router
waits for each result before the next send of a conversation, which keeps its own order)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import Error as JetStreamError
from xmtp_core import telemetry
from xmtp_core.bus import subjects
from xmtp_core.bus.client import answer_command, command_reply_to
from xmtp_core.bus.schemas import (
    AttachmentCommand,
    CommandResult,
    ContentCommand,
    DeadLetter,
    MarkdownCommand,
    OutboundCommand,
    ReactionCommand,
    ReplyCommand,
    SchemaError,
    TextCommand,
    dump,
    parse,
)
from xmtp_core.bus.streams import DLQ, OUT
from xmtp_core.cancellation import raise_if_cancelling
from xmtp_core.content.codecs.attachment import REMOTE_ATTACHMENT, RemoteAttachment
from xmtp_core.content.codecs.reaction import Reaction, ReactionAction, ReactionSchema
from xmtp_core.content.codecs.reply import REPLY, Reply
from xmtp_core.content.codecs.text import MARKDOWN, TEXT, Markdown
from xmtp_core.content.errors import ContentError
from xmtp_core.content.types import ContentTypeId
from xmtp_core.engine import EngineError
from xmtp_core.node import NodeError, NodeRejected
from xmtp_core.runtime import Transient, UnknownConversation
from xmtp_core.untrusted import clean_error

from crypto.agents import Agent

log = logging.getLogger(__name__)

DURABLE = "crypto-out"
CONCURRENCY = 32
ACK_WAIT_S = 60.0
MAX_DELIVER = 5

Resolve = Callable[[Agent, str | None, str | None, str | None], Awaitable[bytes]]


class CommandError(Exception):
    """A command that cannot be carried out (not a retry matter): `reason` is a result error code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def content_of(cmd: Any, agent: Agent) -> tuple[object, ContentTypeId]:
    """The content value and type a command sends."""
    registry = agent.runtime.registry
    if isinstance(cmd, TextCommand):
        return cmd.text, TEXT
    if isinstance(cmd, MarkdownCommand):
        return Markdown(cmd.markdown), MARKDOWN
    if isinstance(cmd, ReactionCommand):
        reaction = Reaction(
            cmd.reference, cmd.content, ReactionAction(cmd.action), ReactionSchema(cmd.schema_), cmd.reference_inbox_id
        )
        return reaction, registry.codec_for_value(reaction).content_type
    if isinstance(cmd, ReplyCommand):
        return Reply(cmd.reference, registry.encode(cmd.text, content_type=TEXT), cmd.reference_inbox_id), REPLY
    if isinstance(cmd, AttachmentCommand):
        attachment = RemoteAttachment(
            cmd.url, cmd.content_digest, cmd.secret, cmd.salt, cmd.nonce, cmd.scheme, cmd.content_length, cmd.filename
        )
        return attachment, REMOTE_ATTACHMENT
    if isinstance(cmd, ContentCommand):
        try:  # our own codec checks the sender's bytes: what goes out is what crypto can read back
            decoded = registry.decode_bytes(cmd.encoded_content)
        except ContentError as exc:
            raise CommandError("invalid_command", clean_error(exc)) from None
        if not decoded.known:
            raise CommandError("invalid_command", "no codec for that content type")
        return decoded.value, decoded.content_type
    raise CommandError("invalid_command", "unknown command type")


class Commands:
    def __init__(
        self,
        nc: NATS,
        js: JetStreamContext,
        agents: Mapping[str, Agent],
        resolve: Resolve,
        *,
        ack_wait_s: float = ACK_WAIT_S,
    ) -> None:
        self.nc = nc
        self.js = js
        self.agents = agents
        self.resolve = resolve
        self.ack_wait_s = ack_wait_s
        self.handled = 0

    async def run(self) -> None:
        config = ConsumerConfig(
            durable_name=DURABLE,
            filter_subject=f"{subjects.PREFIX}.out.>",
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait_s,
            max_ack_pending=CONCURRENCY * 4,
        )
        await self.js.add_consumer(OUT.name, config)
        sub = await self.js.pull_subscribe_bind(durable=DURABLE, stream=OUT.name)
        slots = asyncio.Semaphore(CONCURRENCY)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    msgs = await sub.fetch(CONCURRENCY, timeout=2.0)
                except (TimeoutError, NatsTimeoutError):
                    raise_if_cancelling()  # nats-py's fetch can turn a stop into a timeout
                    continue
                except (NatsError, JetStreamError) as exc:
                    raise_if_cancelling()  # or into one of these
                    # The consumer's leader is moving (a server of a NATS cluster died: 503 no responders) or the
                    # connection is reconnecting: unacked commands come again after ack_wait, so pull again.
                    log.warning("%s commands: %s; pulling again", OUT.name, clean_error(exc))
                    await asyncio.sleep(0.4)
                    continue
                for msg in msgs:
                    await slots.acquire()
                    task = asyncio.create_task(self._guarded(msg, slots))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _guarded(self, msg: Msg, slots: asyncio.Semaphore) -> None:
        heartbeat = asyncio.create_task(self._keep_alive(msg))  # a DM to create can outlast one ack_wait
        try:
            with telemetry.consumer_span(OUT.name, msg.headers, **{"messaging.consumer.group.name": DURABLE}):
                await self.handle(msg)
        except Exception as exc:  # one command's failure never stops the consumer
            log.error("command handling failed: %s", clean_error(exc))
            with contextlib.suppress(Exception):
                await msg.nak(delay=1.0)
        finally:
            heartbeat.cancel()
            slots.release()

    async def _keep_alive(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.ack_wait_s / 3)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def handle(self, msg: Msg) -> None:
        reply_to = command_reply_to(msg.headers)  # a hostile reply subject (sb.*, $*, wildcards) is ignored
        try:
            cmd = parse(OutboundCommand, msg.data)
        except SchemaError as exc:
            await self._answer(
                reply_to, None, None, CommandResult(ok=False, error="invalid_command", detail=exc.reason)
            )
            await self._dead_letter(msg, f"invalid command: {exc.reason}")
            return
        agent = self.agents.get(cmd.agent)
        if agent is None or msg.subject != subjects.outbound(cmd.agent):
            result = CommandResult(ok=False, idempotency_key=cmd.idempotency_key, error="unknown_agent")
            await self._answer(reply_to, cmd.agent, cmd.idempotency_key, result)
            await self._dead_letter(msg, "command for an agent this deployment does not run")
            return
        try:
            result = await self.execute(agent, cmd)
        except NodeRejected as exc:  # refused for good (its intent is in Error): a retry would be refused again
            result = CommandResult(
                ok=False, idempotency_key=cmd.idempotency_key, error="refused", detail=clean_error(exc)
            )
        except (Transient, NodeError) as exc:
            delivered = msg.metadata.num_delivered or 1
            if delivered < MAX_DELIVER:
                await msg.nak(delay=min(2.0**delivered, 30.0))
                return
            result = CommandResult(
                ok=False, idempotency_key=cmd.idempotency_key, error="unavailable", detail=clean_error(exc)
            )
        except CommandError as exc:
            result = CommandResult(ok=False, idempotency_key=cmd.idempotency_key, error=exc.reason, detail=exc.detail)
        except EngineError as exc:
            result = CommandResult(
                ok=False, idempotency_key=cmd.idempotency_key, error="refused", detail=clean_error(exc)
            )
        await self._answer(reply_to, cmd.agent, cmd.idempotency_key, result)
        await msg.ack()
        self.handled += 1

    async def execute(self, agent: Agent, cmd: Any) -> CommandResult:
        """Send one valid command; the same idempotency key again sends nothing new."""
        group_id = await self.resolve(agent, cmd.conversation_id, cmd.to_inbox_id, cmd.to_address)
        value, content_type = content_of(cmd, agent)
        try:
            sent = await agent.runtime.send(
                group_id, value, content_type=content_type, idempotency_key=cmd.idempotency_key, wait=False
            )
        except UnknownConversation:
            raise CommandError("not_found", "no such conversation") from None
        return CommandResult(
            ok=True,
            idempotency_key=cmd.idempotency_key,
            message_id=sent.message_id.hex(),
            conversation_id=group_id.hex(),
        )

    async def _answer(self, reply_to: str | None, agent: str | None, key: str | None, result: CommandResult) -> None:
        try:
            await answer_command(self.nc, agent or "", key if agent else None, reply_to, result)
        except Exception as exc:  # the result is also what a repeat of the command gets: log, do not fail it
            log.warning("command result not delivered: %s", clean_error(exc))

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        md = msg.metadata
        seq = md.sequence.stream if md.sequence else 0
        letter = DeadLetter.build("crypto", reason, msg.data, stream=OUT.name, stream_seq=seq, subject=msg.subject)
        headers = {subjects.MSG_ID_HEADER: f"dlq:{OUT.name}:{seq}"}
        await self.js.publish(subjects.dead_letter("crypto"), dump(letter), stream=DLQ.name, headers=headers)
        await msg.term()
        telemetry.DEAD_LETTERS.labels("crypto").inc()
