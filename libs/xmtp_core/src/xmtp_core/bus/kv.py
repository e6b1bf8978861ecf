"""The bus's KV buckets and their values: who the agents are, which topics they follow, where ingest stands.

- `sb_agents`, key `<agent>` -> `AgentRecord` (crypto writes it when an installation is registered).
- `sb_topics`, key `<agent>.<conv>` -> `TopicStart` (crypto writes it when the agent joins a group; the welcome
  topic needs no entry: ingest follows `w<installation key>` of every agent).
- `sb_ingest_cursors`, key `<agent>.<conv>` -> `IngestCursor` (ingest only: the last envelope id JetStream
  acknowledged for that topic).
- `sb_command_results`, key `<agent>.<sha256(idempotency key)>` -> `CommandResult` (crypto: the answer a repeated
  command gets, since its JetStream copy is dropped as a duplicate).
"""

from __future__ import annotations

import hashlib
from typing import Literal

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from pydantic import Field

from xmtp_core.bus import subjects
from xmtp_core.bus.schemas import Hex, NonNeg, SchemaError, Short, _Model, dump, parse


class AgentRecord(_Model):
    v: Literal[1] = 1
    installation_key: Hex
    inbox_id: Short
    address: Short | None = None


class TopicStart(_Model):
    """Follow this topic after `cursor` (the envelopes at or below it predate the agent's membership)."""

    v: Literal[1] = 1
    cursor: NonNeg = 0


class IngestCursor(_Model):
    v: Literal[1] = 1
    cursor: NonNeg = Field(0)


def command_result_key(agent: str, idempotency_key: str) -> str:
    digest = hashlib.sha256(subjects.idempotency_token(idempotency_key).encode()).hexdigest()
    return f"{subjects.agent_token(agent)}.{digest}"


async def put_agent(kv: KeyValue, agent: str, record: AgentRecord) -> None:
    await kv.put(subjects.agent_token(agent), dump(record))


async def put_topic(kv: KeyValue, agent: str, conv: str, cursor: int = 0) -> None:
    await kv.put(subjects.kv_topic_key(agent, conv), dump(TopicStart(cursor=cursor)))


async def get_cursor(kv: KeyValue, agent: str, conv: str) -> int | None:
    """Ingest's cursor of a topic; None when it never published anything of it (or the value is unreadable)."""
    try:
        entry = await kv.get(subjects.kv_topic_key(agent, conv))
    except KeyNotFoundError:
        return None
    if entry.value is None:
        return None
    try:
        cursor: int = parse(IngestCursor, entry.value).cursor
    except SchemaError:
        return None
    return cursor


async def put_cursor(kv: KeyValue, agent: str, conv: str, cursor: int) -> None:
    await kv.put(subjects.kv_topic_key(agent, conv), dump(IngestCursor(cursor=cursor)))
