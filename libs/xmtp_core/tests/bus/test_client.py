"""Request/reply helpers against real NATS: a command's result reaches its sender, a repeated idempotency key
gets the stored result without a second copy in SB_OUT, hostile reply subjects are ignored; operations answer,
invalid ones get `invalid_request`; events go to their subject once."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext
from xmtp_core.bus import client, schemas, subjects
from xmtp_core.bus.streams import EV, OUT

pytestmark = pytest.mark.integration


async def fake_crypto(nc: Client, js: JetStreamContext, handled: list[str]) -> None:
    """Answers every command in SB_OUT: a text gets a message id, anything invalid an error."""
    sub = await js.pull_subscribe("sb.out.>", durable="fakecrypto", stream=OUT.name)
    try:
        await _answer_all(nc, sub, handled)
    finally:
        await sub.unsubscribe()


async def _answer_all(nc: Client, sub: JetStreamContext.PullSubscription, handled: list[str]) -> None:
    while True:
        try:
            msgs = await sub.fetch(1, timeout=0.5)
        except Exception:
            continue
        for msg in msgs:
            reply_to = client.command_reply_to(msg.headers)
            try:
                command = schemas.parse(schemas.OutboundCommand, msg.data)
            except schemas.SchemaError as exc:
                result = schemas.CommandResult(ok=False, error="invalid_command", detail=exc.reason)
                await client.answer_command(nc, "alice", None, reply_to, result)
            else:
                handled.append(command.idempotency_key)
                result = schemas.CommandResult(ok=True, idempotency_key=command.idempotency_key, message_id="abcd")
                await client.answer_command(nc, command.agent, command.idempotency_key, reply_to, result)
            await msg.ack()


async def test_commands_reply_and_repeat(nc: Client, js: JetStreamContext) -> None:
    handled: list[str] = []
    crypto = asyncio.create_task(fake_crypto(nc, js, handled))
    try:
        cmd = schemas.TextCommand(agent="alice", idempotency_key="order-1", conversation_id="ab", text="hi")
        first = await client.send_command(nc, cmd, wait_s=10)
        again = await client.send_command(nc, cmd, wait_s=10)
        assert first == again and first.ok and first.message_id == "abcd"
        assert handled == ["order-1"]
        assert (await js.stream_info(OUT.name)).state.messages == 1
        # A malformed command (sent raw) gets an error reply.
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, max_msgs=1)
        headers = {subjects.REPLY_TO_HEADER: inbox, subjects.MSG_ID_HEADER: "out:alice:bad-1"}
        await js.publish("sb.out.alice", b'{"type":"text","agent":"alice"}', stream=OUT.name, headers=headers)
        reply = schemas.parse(schemas.CommandResult, (await sub.next_msg(timeout=10)).data)
        assert not reply.ok and reply.error == "invalid_command"
    finally:
        crypto.cancel()
        await asyncio.gather(crypto, return_exceptions=True)


def test_hostile_reply_subjects_are_ignored() -> None:
    assert client.command_reply_to({subjects.REPLY_TO_HEADER: "_INBOX.abc.def"}) == "_INBOX.abc.def"
    for bad in (
        "sb.out.>",
        "a.*.b",
        "a b",
        "",
        "a..b",
        "x" * 600,
        "sb.in.alice\r\nPUB x",
        "sb.ev.alice.gab.message",
        "$JS.API.x",
    ):
        assert client.command_reply_to({subjects.REPLY_TO_HEADER: bad}) is None
    assert client.command_reply_to(None) is None


async def test_ops_request_reply(nc: Client) -> None:
    async def handle(request: object) -> schemas.OpResponse:
        if isinstance(request, schemas.LookupInbox):
            return schemas.OpResponse(op=request.op, ok=True, inbox_id="inbox-1")
        raise RuntimeError("secret plaintext in a message")

    sub = await client.serve_ops(nc, "alice", handle)
    try:
        ok = await client.request_op(nc, schemas.LookupInbox(agent="alice", address="0x" + "ab" * 20), wait_s=5)
        assert ok.ok and ok.inbox_id == "inbox-1"
        failed = await client.request_op(nc, schemas.Members(agent="alice", conversation_id="ab"), wait_s=5)
        assert (failed.ok, failed.error, failed.detail) == (False, "internal", "RuntimeError")
        raw = await nc.request(subjects.ops("alice"), b'{"op":"nope"}', timeout=5)
        bad = schemas.parse(schemas.OpResponse, raw.data)
        assert not bad.ok and bad.error == "invalid_request"
    finally:
        await sub.unsubscribe()


async def test_an_op_waits_for_a_crypto_replica_to_come_up(nc: Client) -> None:
    """No replica listens (crypto restarting): the request is made again until one answers, and a timeout (which
    the router retries) when none does, never NoRespondersError (which it would count towards a dead letter)."""
    lookup = schemas.LookupInbox(agent="alice", address="0x" + "ab" * 20)
    with pytest.raises(client.OpTimeout):
        await client.request_op(nc, lookup, wait_s=1)

    async def handle(request: object) -> schemas.OpResponse:
        return schemas.OpResponse(op="lookup_inbox", ok=True, inbox_id="inbox-1")

    async def crypto_up_later() -> object:
        await asyncio.sleep(1.0)
        return await client.serve_ops(nc, "alice", handle)

    later = asyncio.create_task(crypto_up_later())
    try:
        answer = await client.request_op(nc, lookup, wait_s=10)
        assert answer.ok and answer.inbox_id == "inbox-1"
    finally:
        await (await later).unsubscribe()  # type: ignore[attr-defined]


async def test_events_go_to_their_subject_once(js: JetStreamContext) -> None:
    event = schemas.RejectedEvent(agent="alice", event_id="group:ab:3:0", conv="gab", envelope_id=3, reason="duplicate")
    assert client.event_subject(event) == "sb.ev.alice.gab.rejected"
    first = await client.publish_event(js, event)
    second = await client.publish_event(js, event)
    assert not first.duplicate and second.duplicate
    assert (await js.stream_info(EV.name)).state.messages == 1
