"""Hostile-size requests: payloads at XMTP's 1 MiB cap, bounded id lists, responses and streams."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from devnode.main import RunningNode
from devnode_testkit import private_message, send_request, welcome_v1
from xmtp_core.protos.identity.api.v1 import identity_pb2
from xmtp_core.protos.identity.api.v1.identity_pb2_grpc import IdentityApiStub
from xmtp_core.protos.identity.associations import association_pb2 as assoc
from xmtp_core.protos.identity.associations import signature_pb2
from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.protos.mls.api.v1.mls_pb2_grpc import MlsApiStub

MIB = 1024 * 1024


async def expect_code(call: object, code: grpc.StatusCode, match: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await call  # type: ignore[misc]
    assert excinfo.value.code() == code, excinfo.value.details()
    details = excinfo.value.details() or ""
    assert match in details
    return details


async def test_payloads_over_one_mebibyte_are_refused(mls: MlsApiStub) -> None:
    # XMTP's network takes about 1 MB per message; devnode took 5 MB.
    over = private_message(b"g", ciphertext=bytes(MIB))
    await expect_code(mls.SendGroupMessages(send_request(over)), grpc.StatusCode.INVALID_ARGUMENT, "limit")
    welcome = mls_pb2.SendWelcomeMessagesRequest(messages=[welcome_v1(b"\x01" * 32, bytes(MIB + 1))])
    await expect_code(mls.SendWelcomeMessages(welcome), grpc.StatusCode.INVALID_ARGUMENT, "limit")
    under = private_message(b"g", ciphertext=bytes(MIB - 1024))
    await mls.SendGroupMessages(send_request(under))


async def test_newest_group_message_refuses_repeated_and_too_many_ids(mls: MlsApiStub) -> None:
    # One 1 MiB message asked for 100 times in a ~1 KB request: the node used to build a 100 MiB answer.
    await mls.SendGroupMessages(send_request(private_message(b"big", ciphertext=bytes(MIB - 1024))))
    repeated = mls_pb2.GetNewestGroupMessageRequest(group_ids=[b"big"] * 100, include_content=True)
    assert repeated.ByteSize() < 1024
    await expect_code(mls.GetNewestGroupMessage(repeated), grpc.StatusCode.INVALID_ARGUMENT, "group_ids[1] repeats")
    many = mls_pb2.GetNewestGroupMessageRequest(group_ids=[b"%d" % i for i in range(1001)])
    await expect_code(mls.GetNewestGroupMessage(many), grpc.StatusCode.INVALID_ARGUMENT, "limit is 1000")
    empty = mls_pb2.GetNewestGroupMessageRequest(group_ids=[b"big", b""])
    await expect_code(mls.GetNewestGroupMessage(empty), grpc.StatusCode.INVALID_ARGUMENT, "group_ids[1] is empty")


async def test_newest_group_messages_with_content_are_bounded_by_the_response_cap(mls: MlsApiStub) -> None:
    groups = [b"g%02d" % i for i in range(26)]  # 26 × ~1 MiB is over the 24 MiB response cap
    for group in groups:
        await mls.SendGroupMessages(send_request(private_message(group, ciphertext=bytes(MIB - 1024))))
    with_content = mls_pb2.GetNewestGroupMessageRequest(group_ids=groups, include_content=True)
    await expect_code(mls.GetNewestGroupMessage(with_content), grpc.StatusCode.INVALID_ARGUMENT, "fewer groups")
    bare = await mls.GetNewestGroupMessage(mls_pb2.GetNewestGroupMessageRequest(group_ids=groups))
    assert all(r.group_message.v1.id and not r.group_message.v1.data for r in bare.responses)
    some = await mls.GetNewestGroupMessage(
        mls_pb2.GetNewestGroupMessageRequest(group_ids=groups[:3], include_content=True)
    )
    assert all(len(r.group_message.v1.data) > MIB - 1024 for r in some.responses)


def _commit_entry(group_id: bytes, entry: bytes) -> mls_pb2.PublishCommitLogRequest:
    sig = signature_pb2.RecoverableEd25519Signature(bytes=b"s" * 64, public_key=b"p" * 32)
    return mls_pb2.PublishCommitLogRequest(group_id=group_id, serialized_commit_log_entry=entry, signature=sig)


@pytest.fixture
async def big_mls(node: RunningNode) -> AsyncIterator[MlsApiStub]:
    """A client that accepts answers up to 32 MiB, like libxmtp (25 MiB), not gRPC's default 4 MiB."""
    options = [("grpc.max_receive_message_length", 32 * MIB), ("grpc.max_send_message_length", 32 * MIB)]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{node.port}", options=options) as channel:
        yield MlsApiStub(channel)


async def test_commit_log_answers_are_cut_at_the_response_cap(big_mls: MlsApiStub) -> None:
    mls = big_mls
    entry = bytes(MIB - 1024)
    for half in range(2):  # 26 entries of ~1 MiB: more than one 24 MiB answer may hold
        batch = [_commit_entry(b"g", entry[:-1] + bytes([half * 13 + i])) for i in range(13)]
        await mls.BatchPublishCommitLog(mls_pb2.BatchPublishCommitLogRequest(requests=batch))
    q = mls_pb2.QueryCommitLogRequest
    resp = await mls.BatchQueryCommitLog(
        mls_pb2.BatchQueryCommitLogRequest(requests=[q(group_id=b"g"), q(group_id=b"g")])
    )
    assert resp.ByteSize() <= 25 * MIB  # 24 MiB of payload, plus framing
    first, second = resp.responses
    got = list(first.commit_log_entries)
    assert 0 < len(got) < 26
    assert first.paging_info.id_cursor == got[-1].sequence_id  # a cursor for the rest
    assert list(second.commit_log_entries) == []  # the budget is spent: nothing, and the caller's cursor
    assert second.paging_info.id_cursor == 0
    rest = await mls.BatchQueryCommitLog(
        mls_pb2.BatchQueryCommitLogRequest(
            requests=[q(group_id=b"g", paging_info=mls_pb2.PagingInfo(id_cursor=first.paging_info.id_cursor))]
        )
    )
    assert len(got) + len(rest.responses[0].commit_log_entries) == 26


async def test_commit_log_query_count_is_bounded(mls: MlsApiStub) -> None:
    q = mls_pb2.QueryCommitLogRequest
    many = mls_pb2.BatchQueryCommitLogRequest(requests=[q(group_id=b"g%d" % i) for i in range(1001)])
    await expect_code(mls.BatchQueryCommitLog(many), grpc.StatusCode.INVALID_ARGUMENT, "limit is 1000")


Filter = mls_pb2.SubscribeGroupMessagesRequest.Filter


async def first_status(call: grpc.aio.UnaryStreamCall) -> grpc.StatusCode:  # type: ignore[type-arg]
    async def drain() -> grpc.StatusCode:
        try:
            async for _ in call:
                pass
        except grpc.aio.AioRpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    return await asyncio.wait_for(drain(), 60)


async def test_subscription_filters_are_bounded(mls: MlsApiStub) -> None:
    too_many = mls_pb2.SubscribeGroupMessagesRequest(filters=[Filter(group_id=b"%d" % i) for i in range(10_001)])
    assert await first_status(mls.SubscribeGroupMessages(too_many)) == grpc.StatusCode.INVALID_ARGUMENT
    too_long = mls_pb2.SubscribeGroupMessagesRequest(filters=[Filter(group_id=b"g" * 257)])
    assert await first_status(mls.SubscribeGroupMessages(too_long)) == grpc.StatusCode.INVALID_ARGUMENT


async def test_subscriptions_per_connection_are_bounded(mls: MlsApiStub, node: RunningNode) -> None:
    request = mls_pb2.SubscribeGroupMessagesRequest(filters=[Filter(group_id=b"g")])
    open_calls = [mls.SubscribeGroupMessages(request) for _ in range(64)]
    for call in open_calls:
        await call.initial_metadata()
    assert node.node.groups.subscriber_count == 64
    assert await first_status(mls.SubscribeGroupMessages(request)) == grpc.StatusCode.RESOURCE_EXHAUSTED
    for call in open_calls:
        call.cancel()


async def test_a_subscriber_that_does_not_read_is_cut_off(mls: MlsApiStub, node: RunningNode) -> None:
    request = mls_pb2.SubscribeGroupMessagesRequest(filters=[Filter(group_id=b"slow")])
    call = mls.SubscribeGroupMessages(request)
    await call.initial_metadata()  # subscribed; from here on the client reads nothing
    broker = node.node.groups
    peak = 0
    for i in range(40):  # 40 MiB published while the reader sleeps
        await mls.SendGroupMessages(send_request(private_message(b"slow", ciphertext=bytes(MIB - 1024 - i))))
        peak = max(peak, broker.queued_bytes)
    assert peak <= 8 * MIB  # never more than the subscriber's queue bound
    assert await first_status(call) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert broker.queued_bytes == 0


@pytest.mark.parametrize("bad", ["A" * 64, "a" * 63, "a" * 63 + "\x00", "a\n" * 32, "x" * 100_000])
async def test_identity_updates_with_malformed_inbox_ids_are_refused_with_a_clean_reason(
    identity: IdentityApiStub, bad: str
) -> None:
    update = assoc.IdentityUpdate(
        inbox_id=bad, actions=[assoc.IdentityAction(create_inbox=assoc.CreateInbox(initial_identifier="0x12"))]
    )
    request = identity_pb2.PublishIdentityUpdateRequest(identity_update=update)
    details = await expect_code(
        identity.PublishIdentityUpdate(request), grpc.StatusCode.INVALID_ARGUMENT, "is not 64 lowercase hex"
    )
    assert "\x00" not in details and "\n" not in details and len(details) <= 500
    lookup = identity_pb2.GetIdentityUpdatesRequest(
        requests=[identity_pb2.GetIdentityUpdatesRequest.Request(inbox_id=bad)]
    )
    await expect_code(identity.GetIdentityUpdates(lookup), grpc.StatusCode.INVALID_ARGUMENT, "requests[0].inbox_id")


async def test_identity_and_key_package_lookups_are_bounded(mls: MlsApiStub, identity: IdentityApiStub) -> None:
    Req = identity_pb2.GetIdentityUpdatesRequest.Request
    many = identity_pb2.GetIdentityUpdatesRequest(requests=[Req(inbox_id="a" * 64) for _ in range(1001)])
    await expect_code(identity.GetIdentityUpdates(many), grpc.StatusCode.INVALID_ARGUMENT, "limit is 1000")
    Lookup = identity_pb2.GetInboxIdsRequest.Request
    lookups = identity_pb2.GetInboxIdsRequest(requests=[Lookup(identifier=f"0x{i:040x}") for i in range(1001)])
    await expect_code(identity.GetInboxIds(lookups), grpc.StatusCode.INVALID_ARGUMENT, "limit is 1000")
    long_id = identity_pb2.GetInboxIdsRequest(requests=[Lookup(identifier="0x" + "a" * 1000)])
    await expect_code(identity.GetInboxIds(long_id), grpc.StatusCode.INVALID_ARGUMENT, "limit is 256")
    keys = mls_pb2.FetchKeyPackagesRequest(installation_keys=[b"%d" % i for i in range(1001)])
    await expect_code(mls.FetchKeyPackages(keys), grpc.StatusCode.INVALID_ARGUMENT, "limit is 1000")


async def test_small_fields_and_topics_are_bounded(mls: MlsApiStub) -> None:
    hmac = mls_pb2.GroupMessageInput(
        v1=mls_pb2.GroupMessageInput.V1(data=private_message(b"g"), sender_hmac=bytes(MIB // 2))
    )
    request = mls_pb2.SendGroupMessagesRequest(messages=[hmac])
    await expect_code(mls.SendGroupMessages(request), grpc.StatusCode.INVALID_ARGUMENT, "sender_hmac")
    key = mls_pb2.SendWelcomeMessagesRequest(messages=[welcome_v1(b"k" * 257, b"w")])
    await expect_code(mls.SendWelcomeMessages(key), grpc.StatusCode.INVALID_ARGUMENT, "installation_key")
    meta = mls_pb2.SendWelcomeMessagesRequest(messages=[welcome_v1(b"k" * 32, b"w", metadata=bytes(5000))])
    await expect_code(mls.SendWelcomeMessages(meta), grpc.StatusCode.INVALID_ARGUMENT, "welcome_metadata")
    query = mls_pb2.QueryGroupMessagesRequest(group_id=b"g" * 257)
    await expect_code(mls.QueryGroupMessages(query), grpc.StatusCode.INVALID_ARGUMENT, "group_id")
