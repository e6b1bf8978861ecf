"""`serve()` as the CLI runs it: migrations, announce line, answering calls, clean exit on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
import sys

import grpc
import pytest
from devnode.main import start
from devnode_testkit import private_message, send_request
from xmtp_core.protos.mls.api.v1 import mls_pb2, mls_pb2_grpc

_SERVE = "import asyncio, sys; from devnode.main import serve; asyncio.run(serve(sys.argv[1], sys.argv[2], True))"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_serve_announces_serves_and_stops_on_signal(database_url: str, sig: signal.Signals) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SERVE, "127.0.0.1:0", database_url, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
    assert line.startswith("devnode listening on 127.0.0.1:")
    address = line.rsplit(" ", 1)[1].strip()
    async with grpc.aio.insecure_channel(address) as channel:
        stub = mls_pb2_grpc.MlsApiStub(channel)
        await stub.SendGroupMessages(send_request(private_message(b"g")))
        Filter = mls_pb2.SubscribeGroupMessagesRequest.Filter
        stream = stub.SubscribeGroupMessages(mls_pb2.SubscribeGroupMessagesRequest(filters=[Filter(group_id=b"g")]))
        assert (await stream.read()).v1.group_id == b"g"
        proc.send_signal(sig)
        assert await asyncio.wait_for(proc.wait(), 60) == 0
        assert await stream.code() == grpc.StatusCode.OK  # the live stream was ended, not cut


async def test_start_twice_on_one_database_migrates_once(database_url: str) -> None:
    first = await start("127.0.0.1:0", database_url)
    second = await start("127.0.0.1:0", database_url)
    try:
        assert first.port != second.port
    finally:
        await second.stop(grace=0)
        await first.stop(grace=0)


async def test_bad_listen_address_is_rejected(database_url: str) -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        await start("no-port", database_url)


async def test_cancelling_serve_stops_the_server(database_url: str) -> None:
    from devnode.main import serve

    from switchboard.devservices import free_port

    listen = f"127.0.0.1:{free_port()}"
    task = asyncio.create_task(serve(listen, database_url))
    async with grpc.aio.insecure_channel(listen) as channel:
        stub = mls_pb2_grpc.MlsApiStub(channel)
        await stub.SendGroupMessages(send_request(private_message(b"g")), wait_for_ready=True, timeout=60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(grpc.aio.AioRpcError) as excinfo:
            await stub.QueryGroupMessages(mls_pb2.QueryGroupMessagesRequest(group_id=b"g"), timeout=5)
        assert excinfo.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
