"""Every NATS subject, stream name, KV bucket and `Nats-Msg-Id` of the pipeline, built in one place.

Subjects are made from validated tokens only (an agent name, a conversation key, an event kind), so no caller
can inject a `.`, `*` or `>` into a subject, and every message id is a pure function of ids the producer already
has (node envelope id, event id, intent id + build, idempotency key): a republish after a crash is a duplicate
that JetStream's duplicate window drops.
"""

from __future__ import annotations

import re
from typing import Final, Literal

PREFIX: Final = "sb"

AGENT_RE: Final = re.compile(r"[a-z0-9_-]{1,32}")
# A group id or installation key in hex; 128 bytes is far above any id XMTP uses (16 / 32 bytes).
_HEX_RE: Final = re.compile(r"(?:[0-9a-f]{2}){1,128}")
CONV_RE: Final = re.compile(r"[gw](?:[0-9a-f]{2}){1,128}")
# Idempotency keys are chosen by other teams: printable, no spaces, bounded (they end up in a msg id and a KV key).
IDEMPOTENCY_RE: Final = re.compile(r"[A-Za-z0-9_.:=/-]{1,128}")
HOP_RE: Final = re.compile(r"[a-z]{1,16}")

EventKind = Literal["message", "joined", "updated", "rejected", "sent"]
EVENT_KINDS: Final[tuple[EventKind, ...]] = ("message", "joined", "updated", "rejected", "sent")

# Stream names
SB_IN: Final = "SB_IN"
SB_EV: Final = "SB_EV"
SB_OUT: Final = "SB_OUT"
SB_PUB: Final = "SB_PUB"
SB_RES: Final = "SB_RES"
SB_DLQ: Final = "SB_DLQ"

# KV buckets (crypto writes the first two; ingest owns the third; crypto the fourth)
KV_AGENTS: Final = "sb_agents"  # <agent> -> AgentRecord (installation key hex, inbox id)
KV_TOPICS: Final = "sb_topics"  # <agent>.<conv> -> TopicStart (cursor to start after)
KV_INGEST_CURSORS: Final = "sb_ingest_cursors"  # <agent>.<conv> -> last envelope id PubAck'ed into SB_IN
KV_COMMAND_RESULTS: Final = "sb_command_results"  # <agent>.<sha256(idempotency key)> -> CommandResult

# Header an outbound command carries so the result reaches its sender (JetStream answers a request on a stream
# subject with its own PubAck, so the NATS reply subject cannot carry the result: see bus/__init__).
REPLY_TO_HEADER: Final = "Sb-Reply-To"
MSG_ID_HEADER: Final = "Nats-Msg-Id"


class SubjectError(ValueError):
    """A token that may not go into a subject (bad agent name, conversation key, kind or hop)."""


def agent_token(agent: str) -> str:
    if not isinstance(agent, str) or not AGENT_RE.fullmatch(agent):
        raise SubjectError("agent names are 1-32 characters of a-z 0-9 _ -")
    return agent


def conv_token(conv: str) -> str:
    if not isinstance(conv, str) or not CONV_RE.fullmatch(conv):
        raise SubjectError("a conversation key is g<group id hex> or w<installation key hex>")
    return conv


def group_conv(group_id: bytes) -> str:
    return conv_token("g" + group_id.hex())


def welcome_conv(installation_key: bytes) -> str:
    return conv_token("w" + installation_key.hex())


def node_topic(conv: str) -> str:
    """The runtime's topic string (`runtime.group_topic` / `welcome_topic`) of a conversation key."""
    conv_token(conv)
    return ("group:" if conv[0] == "g" else "welcome:") + conv[1:]


def conv_of_node_topic(topic: str) -> str:
    kind, _, hexid = topic.partition(":")
    if kind == "group" and _HEX_RE.fullmatch(hexid):
        return "g" + hexid
    if kind == "welcome" and _HEX_RE.fullmatch(hexid):
        return "w" + hexid
    raise SubjectError("a node topic is group:<hex> or welcome:<hex>")


def topic_bytes(conv: str) -> bytes:
    """The node topic (group id or installation key) a conversation key names."""
    return bytes.fromhex(conv_token(conv)[1:])


# --- subjects (as published; streams store the partitioned form, see `streams`) ---


def inbound(agent: str, conv: str) -> str:
    return f"{PREFIX}.in.{agent_token(agent)}.{conv_token(conv)}"


def event(agent: str, conv: str, kind: EventKind) -> str:
    if kind not in EVENT_KINDS:
        raise SubjectError("unknown event kind")
    return f"{PREFIX}.ev.{agent_token(agent)}.{conv_token(conv)}.{kind}"


def outbound(agent: str) -> str:
    return f"{PREFIX}.out.{agent_token(agent)}"


def ops(agent: str) -> str:
    return f"{PREFIX}.ops.{agent_token(agent)}"


def publish(agent: str, conv: str) -> str:
    return f"{PREFIX}.pub.{agent_token(agent)}.{conv_token(conv)}"


def result(agent: str, conv: str) -> str:
    return f"{PREFIX}.res.{agent_token(agent)}.{conv_token(conv)}"


def results(agent: str) -> str:
    """Every conversation's publish results of one agent (a core-NATS subscription's wildcard)."""
    return f"{PREFIX}.res.{agent_token(agent)}.*"


def dead_letter(hop: str) -> str:
    if not isinstance(hop, str) or not HOP_RE.fullmatch(hop):
        raise SubjectError("a hop is 1-16 lowercase letters")
    return f"{PREFIX}.dlq.{hop}"


def parse_stored(subject: str) -> tuple[str, str, str]:
    """(agent, conv, rest) of a stored, partitioned subject `sb.<hop>.<P>.<agent>.<conv>[.<kind>]`."""
    parts = subject.split(".", 6)
    if len(parts) < 5 or parts[0] != PREFIX or not parts[2].isdigit():
        raise SubjectError("not a partitioned switchboard subject")
    return agent_token(parts[3]), conv_token(parts[4]), ".".join(parts[5:])


# --- message ids ---


def inbound_msg_id(conv: str, envelope_id: int) -> str:
    return f"{node_topic(conv)}:{_non_negative(envelope_id)}"


def outbound_msg_id(agent: str, idempotency_key: str) -> str:
    return f"out:{agent_token(agent)}:{idempotency_token(idempotency_key)}"


def publish_msg_id(intent_id: str, build: int) -> str:
    return f"intent:{intent_id}:{_non_negative(build)}"


def result_msg_id(intent_id: str, build: int) -> str:
    return f"res:{intent_id}:{_non_negative(build)}"


def idempotency_token(key: str) -> str:
    if not isinstance(key, str) or not IDEMPOTENCY_RE.fullmatch(key):
        raise SubjectError("an idempotency key is 1-128 characters of A-Z a-z 0-9 _ . : = / -")
    return key


def kv_topic_key(agent: str, conv: str) -> str:
    return f"{agent_token(agent)}.{conv_token(conv)}"


def parse_kv_topic_key(key: str) -> tuple[str, str]:
    agent, _, conv = key.partition(".")
    return agent_token(agent), conv_token(conv)


def _non_negative(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SubjectError("ids and builds are non-negative integers")
    return value
