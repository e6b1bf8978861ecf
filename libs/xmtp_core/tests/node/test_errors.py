"""How gRPC failures, closed clients and malformed node answers surface as `NodeError`s."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from xmtp_core.node import NodeClient, NodeError, NodeRejected, NodeUnavailable
from xmtp_core.node.errors import from_rpc_error
from xmtp_core.protos.mls.api.v1 import mls_pb2

Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("code", "kind", "retryable"),
    [
        (Code.UNAVAILABLE, NodeUnavailable, True),
        (Code.DEADLINE_EXCEEDED, NodeUnavailable, True),
        (Code.RESOURCE_EXHAUSTED, NodeUnavailable, True),
        (Code.INVALID_ARGUMENT, NodeRejected, False),
        (Code.FAILED_PRECONDITION, NodeRejected, False),
        (Code.UNIMPLEMENTED, NodeRejected, False),
        (Code.PERMISSION_DENIED, NodeRejected, False),
        (Code.INTERNAL, NodeError, True),
        (Code.DATA_LOSS, NodeError, False),
    ],
)
def test_status_codes_map_onto_the_hierarchy(code: grpc.StatusCode, kind: type[NodeError], retryable: bool) -> None:
    rpc_error = grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details="why")
    error = from_rpc_error("SendGroupMessages", rpc_error)
    assert type(error) is kind
    assert error.retryable is retryable
    assert (error.code, error.message, error.method) == (code, "why", "SendGroupMessages")
    assert str(error) == f"SendGroupMessages: {code.name}: why"


async def test_closed_client_raises_a_final_error() -> None:
    client = NodeClient.for_url("http://127.0.0.1:1")
    await client.close()
    with pytest.raises(NodeError) as raised:
        await client.query_group_messages(b"g")
    assert not raised.value.retryable and "closed" in raised.value.message
    sub = client.subscribe_group_messages({b"g": 0})
    with pytest.raises(NodeError):
        await anext(sub)
    with pytest.raises(StopAsyncIteration):
        await anext(sub)


Handler = Callable[[bytes, grpc.aio.ServicerContext[bytes, bytes]], object]


async def _fake_node(method: str, handler: Handler) -> AsyncIterator[NodeClient]:
    server = grpc.aio.server()
    rpc = grpc.unary_unary_rpc_method_handler(handler)  # type: ignore[arg-type]
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("xmtp.mls.api.v1.MlsApi", {method: rpc})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with NodeClient.for_url(f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        await server.stop(None)


async def test_wrong_number_of_answers_is_a_bad_response() -> None:
    async def one_answer(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        Entry = mls_pb2.FetchKeyPackagesResponse.KeyPackage
        return mls_pb2.FetchKeyPackagesResponse(key_packages=[Entry()]).SerializeToString()

    async for client in _fake_node("FetchKeyPackages", one_answer):
        with pytest.raises(NodeError, match="asked for 2 results, got 1") as raised:
            await client.fetch_key_packages([b"k1", b"k2"])
        assert raised.value.code is None and not raised.value.retryable


async def test_page_running_backwards_is_a_bad_response() -> None:
    async def stale_page(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        old = mls_pb2.GroupMessage(v1=mls_pb2.GroupMessage.V1(id=3, group_id=b"g", data=b"x"))
        paging = mls_pb2.PagingInfo(id_cursor=3)
        return mls_pb2.QueryGroupMessagesResponse(messages=[old], paging_info=paging).SerializeToString()

    async for client in _fake_node("QueryGroupMessages", stale_page):
        # Following this page would loop forever on id 3.
        with pytest.raises(NodeError, match="not in order after cursor 5"):
            await client.query_group_messages(b"g", cursor=5)
