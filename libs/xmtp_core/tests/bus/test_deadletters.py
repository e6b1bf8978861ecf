"""Dead letters on real NATS: a poison message lands in SB_DLQ, is listed and counted, and a replay hands the same
payload to the consumer again on its original subject under a new message id (once, however often replayed);
letters that cannot come back as they went in are refused with a reason; `switchboard dlq list | replay` print
the same."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from xmtp_core.bus import deadletters, subjects
from xmtp_core.bus.runner import Meta, PartitionedConsumer, Poison
from xmtp_core.bus.schemas import DeadLetter, GroupEnvelope, InboundEnvelope, dump
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import DLQ, IN, OUT

pytestmark = pytest.mark.integration
AGENT = "agent1"


def envelope(envelope_id: int) -> GroupEnvelope:
    return GroupEnvelope(agent=AGENT, envelope_id=envelope_id, created_ns=1, group_id="ab01", data=b"x")


async def publish(js: JetStreamContext, env: GroupEnvelope) -> None:
    msg_id = subjects.inbound_msg_id(env.conv, env.envelope_id)
    await js.publish(
        subjects.inbound(AGENT, env.conv), dump(env), stream=IN.name, headers={subjects.MSG_ID_HEADER: msg_id}
    )


async def until(predicate: object, within: float = 20.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # type: ignore[operator]  # noqa: ASYNC110 - what the consumer task records
            await asyncio.sleep(0.02)


async def test_a_poison_message_is_listed_counted_and_replayed_once(
    js: JetStreamContext, settings: BusSettings
) -> None:
    seen: list[Meta] = []
    poisoned = {7}  # the first delivery of envelope 7 is poison; after the "fix" it is handled

    async def handle(env: GroupEnvelope, meta: Meta) -> None:
        if env.envelope_id in poisoned:
            poisoned.discard(env.envelope_id)
            raise Poison("cannot handle this one yet")
        seen.append(meta)

    conn = await nats.connect(settings.nats_url)
    runner: PartitionedConsumer[GroupEnvelope] = PartitionedConsumer(
        conn.jetstream(), IN, "crypto", InboundEnvelope, handle, settings, fetch_timeout_s=0.5
    )
    task = asyncio.create_task(runner.run())
    try:
        await publish(js, envelope(7))
        await publish(js, envelope(8))
        await until(lambda: runner.dead_lettered == 1 and len(seen) == 1)
        original = seen[0]

        (stored,) = await deadletters.list_letters(js)
        assert stored.letter is not None and stored.letter.stream == IN.name
        assert stored.letter.subject == original.subject  # same conversation, so the same stored subject
        assert "cannot handle this one yet" in stored.line()
        assert await deadletters.counts(js) == {"crypto": 1}
        assert await deadletters.list_letters(js, hop="router") == []

        stream, _, again = await deadletters.replay(js, stored.seq)
        assert (stream, again) == (IN.name, False)
        await until(lambda: len(seen) == 2)
        replayed = seen[1]
        assert replayed.subject == original.subject and replayed.partition == original.partition
        assert replayed.msg_id == deadletters.replay_msg_id(stored.seq) != original.msg_id
        assert replayed.num_delivered == 1  # a fresh message: its delivery count starts again

        _, _, again = await deadletters.replay(js, stored.seq, delete=True)
        assert again  # the second replay is stored once
        await asyncio.sleep(1.5)
        assert len(seen) == 2
        assert await deadletters.list_letters(js) == []  # deleted after the copy was stored
        assert await deadletters.counts(js) == {}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await conn.close()


async def put_letter(js: JetStreamContext, hop: str, payload: bytes) -> int:
    ack = await js.publish(subjects.dead_letter(hop), payload, stream=DLQ.name)
    return int(ack.seq)


@pytest.mark.parametrize(
    ("letter", "why"),
    [
        (DeadLetter.build("ingest", "bad", b"raw node bytes", subject="sb.in.agent1.gab01"), "names no stream"),
        (DeadLetter.build("crypto", "r", b"x", stream="SB_NOPE", subject="sb.in.1.agent1.gab01"), "unknown stream"),
        (DeadLetter.build("crypto", "r", b"x", stream=IN.name, subject="sb.ev.1.agent1.gab01.text"), "not one of"),
        (DeadLetter.build("crypto", "r", b"x", stream=IN.name, subject="sb.in.agent1.gab01"), "partition"),
        (DeadLetter.build("crypto", "r", b"x", stream=IN.name, subject="sb.in.1.agent1.*"), "not one of"),
        (DeadLetter.build("crypto", "r", b"x", stream=IN.name, subject="sb.in.1.agent1.gab01.more"), "not one of"),
        (DeadLetter.build("crypto", "r", b"x" * 10, stream=IN.name, subject="sb.in.1.agent1.gab01"), None),
    ],
)
async def test_what_cannot_come_back_as_it_went_in_is_refused(
    js: JetStreamContext, letter: DeadLetter, why: str | None
) -> None:
    if why is None:  # a payload cut at the cap: replaying it would hand the consumer a different message
        letter = letter.model_copy(update={"payload_size": 10_000_000})
        why = "cannot replay"
    seq = await put_letter(js, letter.hop, dump(letter))
    with pytest.raises(deadletters.ReplayError, match=why):
        await deadletters.replay(js, seq)
    assert (await js.stream_info(IN.name)).state.messages == 0


async def test_unreadable_letters_are_listed_cleaned_and_refused(js: JetStreamContext) -> None:
    seq = await put_letter(js, "crypto", b"\x1b[31mnot json\x00")
    (stored,) = await deadletters.list_letters(js)
    assert stored.letter is None and "\x1b" not in stored.line() and "\x00" not in stored.line()
    with pytest.raises(deadletters.ReplayError, match="does not parse"):
        await deadletters.replay(js, seq)
    with pytest.raises(deadletters.ReplayError, match="no dead letter"):
        await deadletters.replay(js, seq + 100)


async def test_a_command_letter_goes_back_to_sb_out(js: JetStreamContext) -> None:
    subject = subjects.outbound(AGENT)
    letter = DeadLetter.build("crypto", "r", b'{"v":1}', stream=OUT.name, stream_seq=3, subject=subject)
    seq = await put_letter(js, "crypto", dump(letter))
    assert await deadletters.replay(js, seq) == (OUT.name, 1, False)
    msg = await js.get_msg(OUT.name, 1)
    assert msg.subject == subject and msg.data == b'{"v":1}'


async def switchboard(nats_url: str, *args: str) -> tuple[int, str]:
    exe = Path(sys.executable).parent / "switchboard"
    proc = await asyncio.create_subprocess_exec(
        str(exe), *args, env={**os.environ, "NATS_URL": nats_url},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return int(proc.returncode or 0), out.decode()


async def test_the_cli_lists_and_replays(js: JetStreamContext, settings: BusSettings) -> None:
    good = DeadLetter.build(
        "router", "handler failed", dump(envelope(1)), stream=IN.name, subject="sb.in.0.agent1.gab01", deliveries=5
    )
    seq = await put_letter(js, "router", dump(good))
    bad = await put_letter(js, "crypto", b"{}")
    code, out = await switchboard(settings.nats_url, "dlq", "list")
    assert code == 0, out
    assert f"{seq} " in out and "router SB_IN#- sb.in.0.agent1.gab01 deliveries=5" in out, out
    assert "dead letters: 2 crypto=1 router=1" in out, out
    code, out = await switchboard(settings.nats_url, "dlq", "replay", str(seq), str(bad))
    assert code == 1, out  # one was refused
    assert f"{seq}: replayed to SB_IN#1" in out and f"{bad}: refused: letter {bad} does not parse" in out, out
    assert (await js.stream_info(IN.name)).state.messages == 1
    code, out = await switchboard(settings.nats_url, "dlq", "list", "--hop", "no.such")
    assert code == 2 and "Traceback" not in out, out
