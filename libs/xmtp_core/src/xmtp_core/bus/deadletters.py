"""Inspecting and replaying the dead letters in SB_DLQ (`switchboard dlq list | replay`).

A dead letter keeps the original's stream, stored subject and payload (see `schemas.DeadLetter`). Replaying one
re-publishes that payload on the subject it was first published to (a partitioned stream's stored subject
without its partition token: the stream's transform puts it back) under a new message id, so JetStream's
duplicate window does not swallow it as a copy of the original. The new id is derived from the dead letter's
own sequence: replaying the same letter twice within the window stores it once.

What is refused, with a reason, is what could not come back as it went in: a letter with no stream (ingest's:
its payload is the node's raw envelope, not a bus message), a payload cut at the dead-letter cap, a subject that
is not one of the stream's, or a letter that does not parse (anyone allowed to publish on `sb.dlq.*` can write
one, so every text shown is cleaned again).

Replay SB_IN letters within crypto's prune horizon (3 h, `crypto.relay.PRUNE_AFTER_NS`): once the topic's
cursor has moved past an envelope and its marks older than that were folded into a floor, the envelope counts as
processed and a replay of it is skipped (`xmtp_core.store.envelopes`).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from xmtp_core.bus import subjects
from xmtp_core.bus.schemas import DeadLetter, SchemaError, parse
from xmtp_core.bus.streams import DLQ, STREAMS, StreamSpec
from xmtp_core.untrusted import clean

__all__ = [
    "MAX_LIST",
    "ReplayError",
    "StoredLetter",
    "counts",
    "list_letters",
    "replay",
    "replay_many",
    "replay_msg_id",
    "replay_subject",
]

MAX_LIST: Final = 1000  # letters read per listing (one request each)
_ALL: Final = f"{subjects.PREFIX}.dlq.>"


class ReplayError(Exception):
    """A dead letter that cannot be replayed as it is; the message says why (cleaned)."""


@dataclass(frozen=True)
class StoredLetter:
    """One entry of SB_DLQ: its sequence there, when it was stored, and the letter (None: it does not parse)."""

    seq: int
    time: datetime.datetime | None
    hop: str
    letter: DeadLetter | None
    error: str = ""

    def line(self) -> str:
        """One line for a terminal, every text cleaned (a letter may come from anyone who can publish there)."""
        when = self.time.isoformat(timespec="seconds") if self.time else "?"
        if self.letter is None:
            return f"{self.seq} {when} {clean(self.hop, 16)} unreadable: {clean(self.error)}"
        d = self.letter
        origin = f"{clean(d.stream or '-', 32)}#{d.stream_seq if d.stream_seq is not None else '-'}"
        return (
            f"{self.seq} {when} {clean(d.hop, 16)} {origin} {clean(d.subject or '-', 400)} "
            f"deliveries={d.deliveries} bytes={d.payload_size} reason={clean(d.reason)}"
        )


def _filter(hop: str | None) -> str:
    return _ALL if hop is None else subjects.dead_letter(hop)


async def counts(js: JetStreamContext) -> dict[str, int]:
    """Dead letters stored per hop (what the stream holds now, across every process that wrote them)."""
    try:
        info = await js.stream_info(DLQ.name, subjects_filter=_ALL)
    except NotFoundError:
        return {}
    found = info.state.subjects or {}
    return {subject.rsplit(".", 1)[1]: int(n) for subject, n in found.items()}


async def _get(js: JetStreamContext, seq: int, hop: str | None) -> StoredLetter | None:
    """The first letter at or after `seq` (of `hop`), or None past the end."""
    try:
        raw = await js.get_msg(DLQ.name, seq=seq, subject=_filter(hop), next=True)
    except NotFoundError:
        return None
    stored_seq = int(raw.seq or seq)
    hop_token = (raw.subject or "").rsplit(".", 1)[-1]
    try:
        letter = parse(DeadLetter, raw.data or b"")
    except SchemaError as exc:
        return StoredLetter(stored_seq, raw.time, hop_token, None, str(exc))
    return StoredLetter(stored_seq, raw.time, hop_token, letter)


async def list_letters(
    js: JetStreamContext, *, hop: str | None = None, start_seq: int = 1, limit: int = 50
) -> list[StoredLetter]:
    """Up to `limit` (at most MAX_LIST) letters from `start_seq` on, oldest first."""
    if hop is not None:
        subjects.dead_letter(hop)  # raises SubjectError on a malformed hop
    out: list[StoredLetter] = []
    seq = max(1, start_seq)
    while len(out) < min(max(limit, 0), MAX_LIST):
        found = await _get(js, seq, hop)
        if found is None:
            break
        out.append(found)
        seq = found.seq + 1
    return out


def _spec(stream: str | None) -> StreamSpec:
    for spec in STREAMS:
        if spec.name == stream and spec is not DLQ:
            return spec
    if stream is None:
        raise ReplayError("the letter names no stream (an ingest letter holds the node's envelope): nothing to replay")
    raise ReplayError(f"unknown stream {clean(stream, 32)!r}")


def replay_subject(letter: DeadLetter) -> tuple[StreamSpec, str]:
    """The stream and the publish subject a letter's payload goes back to."""
    spec = _spec(letter.stream)
    parts = (letter.subject or "").split(".")
    if len(parts) < 2 or parts[0] != subjects.PREFIX or parts[1] != spec.hop:
        raise ReplayError(f"subject {clean(letter.subject or '', 80)!r} is not one of {spec.name}'s")
    if spec.partitioned:
        if len(parts) < 3 or not parts[2].isdigit():
            raise ReplayError("a partitioned stream's subject without its partition")
        del parts[2]  # the stream's transform computes it again from agent and conversation
    if len(parts) != 2 + spec.tokens or not all(parts) or any(p in ("*", ">") for p in parts):
        raise ReplayError(f"subject {clean(letter.subject or '', 80)!r} is not one of {spec.name}'s")
    return spec, ".".join(parts)


def replay_msg_id(dlq_seq: int) -> str:
    """The replay's message id: new (not the original's), the same for every replay of one letter."""
    return f"dlq-replay:{DLQ.name}:{dlq_seq}"


async def replay(js: JetStreamContext, seq: int, *, delete: bool = False) -> tuple[str, int, bool]:
    """Re-publish letter `seq`'s payload to its original stream; (stream, stream sequence, already replayed).

    With `delete`, the letter is removed from SB_DLQ once the stream has acknowledged the copy."""
    found = await _get(js, seq, None)
    if found is None or found.seq != seq:
        raise ReplayError(f"no dead letter at {seq}")
    if found.letter is None:
        raise ReplayError(f"letter {seq} does not parse: {clean(found.error)}")
    letter = found.letter
    if letter.payload_size != len(letter.payload):
        raise ReplayError(f"letter {seq} kept {len(letter.payload)} of {letter.payload_size} bytes: cannot replay")
    spec, subject = replay_subject(letter)
    headers = {subjects.MSG_ID_HEADER: replay_msg_id(seq)}
    ack = await js.publish(subject, letter.payload, stream=spec.name, headers=headers)
    if delete:
        await js.delete_msg(DLQ.name, seq)
    return spec.name, int(ack.seq), bool(ack.duplicate)


async def replay_many(js: JetStreamContext, seqs: Sequence[int], *, delete: bool = False) -> list[tuple[int, str]]:
    """Replay each letter in turn; (seq, outcome) per letter, a refusal does not stop the others."""
    out: list[tuple[int, str]] = []
    for seq in seqs:
        try:
            stream, new_seq, duplicate = await replay(js, seq, delete=delete)
        except ReplayError as exc:
            out.append((seq, f"refused: {exc}"))
        else:
            again = " (already replayed: stored once)" if duplicate else ""
            out.append((seq, f"replayed to {stream}#{new_seq}{again}"))
    return out
