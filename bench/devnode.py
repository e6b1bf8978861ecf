"""Benchmark devnode: live fan-out to 100 subscribers, and replay speed of 100k stored messages.

Run: `.venv/bin/python bench/devnode.py` (uses DATABASE_URL, or starts a private Postgres). devnode runs
in a child process so server and client do not share an event loop; on a 2-core machine they still share
CPU with Postgres, so read the figures as "this machine, everything local".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
from xmtp_core.pg_url import plain_pg_url
from xmtp_core.protos.mls.api.v1 import mls_pb2, mls_pb2_grpc

from switchboard.devservices import dev_services, free_port

SUBSCRIBERS = 100
LIVE_MESSAGES = 1_000
LIVE_SENDERS = 10
REPLAY_MESSAGES = 100_000
INSERT_BATCH = 1_000
PAYLOAD = 64


def mls_private_message(group_id: bytes, n: int) -> bytes:
    """A framed MLS PrivateMessage (the node only reads the framing) with a unique ciphertext."""
    body = n.to_bytes(8, "big") + bytes(PAYLOAD)
    return (
        b"\x00\x01\x00\x02"
        + bytes([len(group_id)])
        + group_id
        + (1).to_bytes(8, "big")
        + b"\x01\x00\x0c"
        + bytes(12)
        + bytes([0x40 | (len(body) >> 8), len(body) & 0xFF])
        + body
    )


def send_request(group_id: bytes, numbers: range) -> mls_pb2.SendGroupMessagesRequest:
    V1 = mls_pb2.GroupMessageInput.V1
    return mls_pb2.SendGroupMessagesRequest(
        messages=[mls_pb2.GroupMessageInput(v1=V1(data=mls_private_message(group_id, n))) for n in numbers]
    )


@contextlib.contextmanager
def database() -> Iterator[str]:
    with dev_services(need_nats=False) as svc:
        admin = plain_pg_url(svc.database_url)
        name = f"bench_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
        parts = urlsplit(admin)
        try:
            yield urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))
        finally:
            asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def devnode_process(database_url: str) -> Iterator[str]:
    listen = f"127.0.0.1:{free_port()}"
    code = "import asyncio, sys; from devnode.main import serve; asyncio.run(serve(sys.argv[1], sys.argv[2], True))"
    proc = subprocess.Popen([sys.executable, "-P", "-c", code, listen, database_url], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "devnode listening on" not in line:
            raise RuntimeError(f"devnode did not start (said {line!r}, exit {proc.poll()})")
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def live_fanout(stub: mls_pb2_grpc.MlsApiStub) -> None:
    group = b"live-group"
    Filter = mls_pb2.SubscribeGroupMessagesRequest.Filter
    request = mls_pb2.SubscribeGroupMessagesRequest(filters=[Filter(group_id=group)])
    calls = [stub.SubscribeGroupMessages(request) for _ in range(SUBSCRIBERS)]
    await asyncio.gather(*(c.initial_metadata() for c in calls))
    done_at: list[float] = []

    async def consume(call: grpc.aio.UnaryStreamCall) -> None:  # type: ignore[type-arg]
        got = 0
        async for _ in call:
            got += 1
            if got == LIVE_MESSAGES:
                done_at.append(time.perf_counter())
                return

    consumers = [asyncio.create_task(consume(c)) for c in calls]
    per_sender = LIVE_MESSAGES // LIVE_SENDERS

    async def sender(k: int) -> None:
        for n in range(k * per_sender, (k + 1) * per_sender):
            await stub.SendGroupMessages(send_request(group, range(n, n + 1)))

    start = time.perf_counter()
    await asyncio.gather(*(sender(k) for k in range(LIVE_SENDERS)))
    sent = time.perf_counter() - start
    await asyncio.gather(*consumers)
    delivered = max(done_at) - start
    for c in calls:
        c.cancel()
    print(f"live fan-out: {LIVE_MESSAGES} single-message SendGroupMessages from {LIVE_SENDERS} concurrent senders")
    print(f"  accepted      {LIVE_MESSAGES / sent:10.0f} messages/s  ({sent:.2f} s)")
    print(f"  all {SUBSCRIBERS} subscribers had every message after {delivered:.2f} s")
    rate = LIVE_MESSAGES / delivered
    print(f"  end-to-end    {rate:10.0f} messages/s  = {SUBSCRIBERS * rate:.0f} deliveries/s")


async def replay(stub: mls_pb2_grpc.MlsApiStub) -> None:
    group = b"replay-group"
    start = time.perf_counter()
    for first in range(0, REPLAY_MESSAGES, INSERT_BATCH):
        await stub.SendGroupMessages(send_request(group, range(first, first + INSERT_BATCH)))
    stored = time.perf_counter() - start
    print(f"store: {REPLAY_MESSAGES} messages in batches of {INSERT_BATCH}: {REPLAY_MESSAGES / stored:.0f} messages/s")

    start = time.perf_counter()
    cursor, seen = 0, 0
    while True:
        paging = mls_pb2.PagingInfo(direction=mls_pb2.SORT_DIRECTION_ASCENDING, limit=100, id_cursor=cursor)
        resp = await stub.QueryGroupMessages(mls_pb2.QueryGroupMessagesRequest(group_id=group, paging_info=paging))
        seen += len(resp.messages)
        if not resp.paging_info.id_cursor:
            break
        cursor = resp.paging_info.id_cursor
    paged = time.perf_counter() - start
    assert seen == REPLAY_MESSAGES, seen
    print(f"query paging (limit 100, asc): {seen / paged:.0f} messages/s ({paged:.2f} s)")

    Filter = mls_pb2.SubscribeGroupMessagesRequest.Filter
    start = time.perf_counter()
    call = stub.SubscribeGroupMessages(mls_pb2.SubscribeGroupMessagesRequest(filters=[Filter(group_id=group)]))
    seen = 0
    async for _ in _until(call, REPLAY_MESSAGES):
        seen += 1
    call.cancel()
    replayed = time.perf_counter() - start
    print(f"subscribe replay from cursor 0: {seen / replayed:.0f} messages/s ({replayed:.2f} s)")


async def _until(call: grpc.aio.UnaryStreamCall, n: int) -> AsyncIterator[object]:  # type: ignore[type-arg]
    got = 0
    async for msg in call:
        yield msg
        got += 1
        if got == n:
            return


async def run(address: str) -> None:
    options = [("grpc.max_receive_message_length", 32 * 1024 * 1024)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        stub = mls_pb2_grpc.MlsApiStub(channel)
        await live_fanout(stub)
        await replay(stub)


def main() -> None:
    print(
        f"devnode bench (cpus: {os.cpu_count()}, DATABASE_URL {'set' if os.environ.get('DATABASE_URL') else 'unset'})"
    )
    t0 = time.perf_counter()
    with database() as url, devnode_process(url) as address:
        asyncio.run(run(address))
    print(f"total bench time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
