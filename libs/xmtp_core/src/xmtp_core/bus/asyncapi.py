"""The bus's AsyncAPI document, generated from the code: a FastStream broker on which every hop is declared with
its schema (nothing connects; `switchboard asyncapi` prints it).

Each channel is declared as what its producers publish (`publisher(..., schema=Model)`); replies (to
`sb.ops.<agent>` requests and to commands' `Sb-Reply-To`) are channels of their own, titled after their request.
`{agent}` and `{conv}` are the subject tokens of `xmtp_core.bus.subjects`.
"""

from __future__ import annotations

import json
from typing import Any, Final

from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI

from xmtp_core.bus import schemas
from xmtp_core.bus.streams import DLQ, EV, IN, OUT, PUB, RES

CHANNELS: Final[tuple[tuple[str, Any, str, str], ...]] = (
    ("sb.in.{agent}.{conv}", schemas.InboundEnvelope, IN.name, "ingest -> crypto: a raw node envelope"),
    ("sb.ev.{agent}.{conv}.message", schemas.MessageEvent, EV.name, "crypto -> router: a decrypted message"),
    ("sb.ev.{agent}.{conv}.joined", schemas.JoinedEvent, EV.name, "crypto -> router: the agent joined"),
    ("sb.ev.{agent}.{conv}.updated", schemas.UpdatedEvent, EV.name, "crypto -> router: a group changed"),
    ("sb.ev.{agent}.{conv}.rejected", schemas.RejectedEvent, EV.name, "crypto: an envelope refused, with reason"),
    ("sb.ev.{agent}.{conv}.sent", schemas.SentEvent, EV.name, "crypto -> router: an outbound intent's outcome"),
    ("sb.out.{agent}", schemas.OutboundCommand, OUT.name, "anyone -> crypto: send (header Sb-Reply-To)"),
    ("sb.pub.{agent}.{conv}", schemas.PublishRequest, PUB.name, "crypto -> publisher: one build of an intent"),
    ("sb.res.{agent}.{conv}", schemas.PublishResult, RES.name, "publisher -> crypto: the node's answer"),
    ("sb.dlq.{hop}", schemas.DeadLetter, DLQ.name, "any hop: what it gave up on"),
)
# Core NATS (no stream): conversation operations, and the replies to operations and commands.
CORE_CHANNELS: Final[tuple[tuple[str, str, Any, str], ...]] = (
    ("sb.ops.{agent}", "sb.ops.{agent}", schemas.OpRequest, "anyone -> crypto: a conversation operation (request)"),
    ("_INBOX.{reply}", "sb.ops.{agent} reply", schemas.OpResponse, "crypto -> requester: the operation's answer"),
    ("_INBOX.{sb_reply_to}", "sb.out.{agent} result", schemas.CommandResult, "crypto -> Sb-Reply-To of a command"),
)


def build_broker() -> NatsBroker:
    """A broker (never connected) declaring every channel of the bus with its schema."""
    broker = NatsBroker("nats://127.0.0.1:4222")
    for subject, schema, stream, description in CHANNELS:
        broker.publisher(subject, stream=stream, schema=schema, title=subject, description=description)

    for subject, title, schema, description in CORE_CHANNELS:
        broker.publisher(subject, schema=schema, title=title, description=description)
    return broker


def document(fmt: str = "json") -> str:
    spec = AsyncAPI(
        build_broker(),
        title="Switchboard bus",
        version="1",
        description="NATS JetStream subjects and payloads of the Switchboard pipeline (xmtp_core.bus)",
    ).to_specification()
    if fmt == "yaml":
        text: str = spec.to_yaml()
        return text
    return json.dumps(json.loads(spec.to_json()), indent=2, sort_keys=True)
