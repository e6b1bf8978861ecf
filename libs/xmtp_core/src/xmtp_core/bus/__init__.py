"""xmtp_core.bus: the NATS JetStream bus the pipeline's services share (subjects, schemas, streams, consumers).

- `subjects`: every subject, stream, KV bucket and `Nats-Msg-Id` (prefix `sb`, validated tokens).
- `schemas`: versioned pydantic models of every hop, size-capped; `parse` never raises anything but `SchemaError`.
- `streams`: `ensure_streams` / `ensure_buckets` (idempotent), `partition_consumer` (the per-partition config).
- `runner`: `PartitionedConsumer`, `Transient`, `Poison`, `Meta`: how crypto, router and publisher consume.
- `client`: both ends of commands (`send_command`, `command_reply_to`, `answer_command`), operations
  (`request_op`, `serve_ops`) and event publishing (`event_subject`, `publish_event`).
- `kv`: the KV records (agents, topics, ingest cursors, command results).
- `settings`: `BusSettings` (NATS_URL, SB_PARTITIONS, SB_AGENTS, ...).
- `asyncapi`: the AsyncAPI document, generated from the schemas (`switchboard asyncapi`).

Hops (stream: published subject -> stored subject, message id):

    SB_IN   sb.in.<agent>.<conv>         -> sb.in.<P>.<agent>.<conv>          <node topic>:<envelope id>
    SB_EV   sb.ev.<agent>.<conv>.<kind>  -> sb.ev.<P>.<agent>.<conv>.<kind>   the event id
    SB_OUT  sb.out.<agent>                                                    out:<agent>:<idempotency key>
    SB_PUB  sb.pub.<agent>.<conv>        -> sb.pub.<P>.<agent>.<conv>         intent:<id>:<build>
    SB_RES  sb.res.<agent>.<conv>        -> sb.res.<P>.<agent>.<conv>         res:<intent id>:<build>
    SB_DLQ  sb.dlq.<hop>                                                      dlq:<stream>:<stream seq>
    (core)  sb.ops.<agent>               request/reply, no stream

`<conv>` is `g<group id hex>` or `w<installation key hex>` (an agent's welcome topic); `<P>` is
`partition(N, agent, conv)` computed by the stream's subject transform (nats-server >= 2.10), N = SB_PARTITIONS.

Design decisions, and the answers to pipeline.md's questions for these parts:

- **Order and take-over.** One durable pull consumer per partition with `max_ack_pending=1`: the server hands
  out a partition's next message only after the previous one is acked, to whichever replica pulls next, so a
  conversation is processed in stream order (which is node order: ingest publishes each topic in ascending id
  order and waits for each PubAck before the cursor moves). A replica that dies loses its one message per
  partition: cancelled, it naks at once; killed, the server redelivers after `ack_wait_s` (while a handler
  runs, its ack deadline is pushed back every `ack_wait_s / 3`). Overlap is possible only when a replica stalls
  longer than `ack_wait_s` without dying; crypto's per-conversation Postgres advisory lock makes the stale
  replica's work wait, and the engine's dedup mark makes the second run a no-op.
- **Consumers on nats-py, FastStream for the contract.** FastStream 0.7's pull subscriber handles a fetched batch
  concurrently and hides the per-message delivery count, redelivery delay and `in_progress`, which the ordering,
  take-over and dead-letter rules above need; so `PartitionedConsumer` is written on nats-py, while FastStream
  declares every channel for the AsyncAPI document and validates payloads in its in-memory test broker.
- **SB_PUB and SB_RES are partitioned too** (the brief had `sb.pub.<agent>`): the node orders a group's
  messages by arrival, so two replicas publishing one conversation's intents in parallel would reorder them;
  per-conversation partitions keep a conversation's sends in the order crypto emitted them while conversations
  go out in parallel.
- **Bounds and backpressure.** Each consumer replica has at most one message per partition in flight; ingest
  at most `SB_MAX_IN_FLIGHT` un-acked publishes per agent. At a bound nothing more is pulled (the messages
  wait in JetStream, or ingest stops reading its node stream, which the node buffers): nothing is dropped.
  Streams use limits retention (7 days, DLQ 30 days) with `discard=old`; consumer lag is the consumer's
  `num_pending` per partition.
- **Retries and dead letters.** A handler raises `Transient` for what may pass (retried with a growing delay,
  never dead-lettered); any other error is retried `SB_MAX_DELIVER` times, then the message goes to
  `sb.dlq.<hop>` (`DeadLetter`: cleaned reason, stream, sequence, msg id, subject, the first 64 KiB of the
  payload) and the partition goes on. A payload that does not parse is dead-lettered at once. The server's own
  `max_deliver` is unlimited so it never drops a message without a dead letter.
- **Exactly once onto the bus.** Every message id is derived from ids the producer already has (above), and
  every stream's duplicate window is `SB_DUPLICATE_WINDOW_S` (2 h): a producer that crashes between its commit
  (or cursor) and the PubAck republishes, and JetStream drops the copy.
- **Outbound commands.** JetStream answers a publish that has a reply subject with its own PubAck, so the NATS
  reply subject cannot carry a command's result. A sender subscribes to an inbox, publishes the command to
  `sb.out.<agent>` with headers `Nats-Msg-Id: out:<agent>:<key>` and `Sb-Reply-To: <inbox>`, and crypto sends the
  `CommandResult` there (and keeps it in KV `sb_command_results`, which a sender whose PubAck says `duplicate`
  reads instead). An invalid command gets an error result and a dead letter.
- **Ingest and a changing set of groups.** Ingest watches KV `sb_topics` (crypto writes `<agent>.<conv>` when
  the agent joins); a new key is added to the open subscription at once (`Subscription.add`), which re-opens
  the node stream with every topic's cursor, so nothing is skipped or repeated.
- **Epoch races** are crypto's: a commit that lost the race comes back as a `transient`/`permanent`
  `PublishResult` or as a rejected echo; crypto rebuilds it as a new build of the same intent (a new msg id
  `intent:<id>:<build+1>`), and the final outcome reaches the router as a `SentEvent` on `sb.ev.<agent>.<conv>.sent`.
- **Plaintext at rest.** Decrypted content is on the bus only in SB_EV (and in command / op payloads, which are
  the senders' own plaintext), and only in JetStream streams encrypted at rest: the private server
  (`switchboard.devservices`) runs with `jetstream { cipher: chachapoly, key: ... }` (key from `NATS_JS_KEY`, else
  a random one per run). An operator who brings their own NATS (`NATS_URL`) must enable the same (server config
  `jetstream { cipher: chachapoly, key: $NATS_JS_KEY }`, or encrypted volumes at least), set `max_payload` to
  8 MB (envelopes are capped at 4 MiB, base64 on the wire), and use nats-server >= 2.10 (subject transforms).
  Nothing in this package logs payloads; reasons and details are cleaned with `xmtp_core.untrusted.clean`.
- **Figures.** Consumer lag per partition (`streams.consumer_lag`: pending plus un-acked), dead letters (SB_DLQ
  message count), the runner's `handled` / `dead_lettered` counters; intents by state are crypto's (the store).
"""

from xmtp_core.bus.runner import Meta, PartitionedConsumer, Poison, Transient
from xmtp_core.bus.settings import BusSettings
from xmtp_core.bus.streams import EV, IN, OUT, PUB, RES, ensure_buckets, ensure_streams

__all__ = [
    "EV",
    "IN",
    "OUT",
    "PUB",
    "RES",
    "BusSettings",
    "Meta",
    "PartitionedConsumer",
    "Poison",
    "Transient",
    "ensure_buckets",
    "ensure_streams",
]
