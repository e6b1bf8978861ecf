"""NodeClient against a real devnode over loopback: every call, paging, and the error mapping."""

from __future__ import annotations

import socket

import grpc
import pytest
from nodekit import group_message, key_package, registration
from xmtp_core.node import (
    CommitLogPublish,
    NewGroupMessage,
    NewWelcome,
    NewWelcomePointer,
    NodeClient,
    NodeError,
    NodeRejected,
    NodeUnavailable,
    ScwSignature,
    WelcomeKind,
)
from xmtp_core.protos.identity.associations import signature_pb2


async def test_send_and_query_group_messages(client: NodeClient) -> None:
    app = group_message(b"group-a", b"hi")
    commit = group_message(b"group-a", commit=True)
    await client.send_group_messages([NewGroupMessage(app, sender_hmac=b"mac", should_push=True), commit])
    await client.send_group_messages([group_message(b"group-b")])

    page = await client.query_group_messages(b"group-a")
    assert [m.data for m in page.items] == [app, commit]
    assert [m.is_commit for m in page.items] == [False, True]
    assert page.items[0].sender_hmac == b"mac" and page.items[0].should_push
    assert all(m.group_id == b"group-a" and m.topic == b"group-a" and m.created_ns > 0 for m in page.items)
    assert page.items[0].id < page.items[1].id
    assert page.next_cursor is None

    newest_first = await client.query_group_messages(b"group-a", ascending=False, limit=1)
    assert [m.data for m in newest_first.items] == [commit]
    assert newest_first.next_cursor == page.items[1].id


async def test_paging_over_several_pages(client: NodeClient) -> None:
    datas = [group_message(b"paged", b"m%03d" % i) for i in range(7)]
    await client.send_group_messages(datas[:4])
    await client.send_group_messages([group_message(b"noise")])
    await client.send_group_messages(datas[4:])

    first = await client.query_group_messages(b"paged", limit=3)
    assert [m.data for m in first.items] == datas[:3]
    assert first.next_cursor == first.items[-1].id

    everything = [m async for m in client.iter_group_messages(b"paged", page_size=3)]
    assert [m.data for m in everything] == datas

    after_third = [m async for m in client.iter_group_messages(b"paged", cursor=first.items[-1].id, page_size=2)]
    assert [m.data for m in after_third] == datas[3:]


async def test_welcomes_v1_and_pointer_with_paging(client: NodeClient) -> None:
    me, other = b"\x01" * 32, b"\x02" * 32
    sent = [
        NewWelcome(me, b"welcome-%d" % i, b"hpke-pk", wrapper_algorithm=2, welcome_metadata=b"meta") for i in range(3)
    ]
    await client.send_welcome_messages([*sent[:2], NewWelcome(other, b"not-mine", b"pk", 1)])
    await client.send_welcome_messages([sent[2], NewWelcomePointer(me, b"pointer", b"pk2", 1)])

    page = await client.query_welcome_messages(me, limit=2)
    assert [w.data for w in page.items] == [b"welcome-0", b"welcome-1"]
    assert page.next_cursor is not None

    welcomes = [w async for w in client.iter_welcome_messages(me, page_size=2)]
    assert [w.data for w in welcomes] == [b"welcome-0", b"welcome-1", b"welcome-2", b"pointer"]
    assert [w.kind for w in welcomes] == [WelcomeKind.V1] * 3 + [WelcomeKind.POINTER]
    assert welcomes[0].hpke_public_key == b"hpke-pk" and welcomes[0].wrapper_algorithm == 2
    assert welcomes[0].welcome_metadata == b"meta" and welcomes[0].installation_key == me
    assert welcomes[3].hpke_public_key == b"pk2" and welcomes[3].topic == me


async def test_key_packages(client: NodeClient) -> None:
    seed = b"\x07" * 32
    kp, installation = key_package(seed)
    await client.upload_key_package(kp)
    unknown = b"\x09" * 32
    assert await client.fetch_key_packages([installation, unknown]) == [kp, None]
    replacement, same_installation = key_package(seed)
    assert same_installation == installation and replacement != kp
    await client.upload_key_package(replacement)
    assert await client.fetch_key_packages([installation]) == [replacement]
    assert await client.fetch_key_packages([]) == []


async def test_identity_updates_and_inbox_lookup(client: NodeClient) -> None:
    update, address = await registration()
    assert await client.get_inbox_ids([address]) == {address: None}
    await client.publish_identity_update(update)

    assert await client.get_inbox_ids([address, "0x" + "00" * 20]) == {address: update.inbox_id, "0x" + "00" * 20: None}
    logs = await client.get_identity_updates({update.inbox_id: 0, "f" * 64: 0})
    assert [entry.update for entry in logs[update.inbox_id]] == [update]
    assert logs[update.inbox_id][0].sequence_id > 0 and logs[update.inbox_id][0].server_timestamp_ns > 0
    assert logs["f" * 64] == []
    after_first = await client.get_identity_updates({update.inbox_id: logs[update.inbox_id][0].sequence_id})
    assert after_first == {update.inbox_id: []}


async def test_newest_group_messages(client: NodeClient) -> None:
    await client.send_group_messages([group_message(b"n1", b"old"), group_message(b"n1", b"new")])
    newest = await client.get_newest_group_messages([b"n1", b"empty"], include_content=True)
    assert set(newest) == {b"n1", b"empty"}
    assert newest[b"empty"] is None
    latest = newest[b"n1"]
    assert latest is not None and latest.data == (await client.query_group_messages(b"n1")).items[-1].data
    without = await client.get_newest_group_messages([b"n1"])
    assert without[b"n1"] is not None and without[b"n1"].data == b"" and without[b"n1"].id == latest.id


async def test_commit_log_publish_and_query(client: NodeClient) -> None:
    sig = signature_pb2.RecoverableEd25519Signature(bytes=b"\x05" * 64, public_key=b"\x06" * 32)
    await client.batch_publish_commit_log(
        [CommitLogPublish(b"cl", b"entry-%d" % i, sig) for i in range(3)] + [CommitLogPublish(b"cl2", b"x", sig)]
    )
    pages = await client.batch_query_commit_log({b"cl": 0, b"cl2": 0, b"none": 0})
    assert [e.serialized_entry for e in pages[b"cl"].entries] == [b"entry-0", b"entry-1", b"entry-2"]
    assert pages[b"cl"].entries[0].signature == sig
    assert [e.serialized_entry for e in pages[b"cl2"].entries] == [b"x"]
    assert pages[b"none"].entries == [] and pages[b"none"].next_cursor is None

    first = pages[b"cl"].entries[0].sequence_id
    rest = await client.batch_query_commit_log({b"cl": first}, limit=1)
    assert [e.serialized_entry for e in rest[b"cl"].entries] == [b"entry-1"]
    assert rest[b"cl"].next_cursor == rest[b"cl"].entries[0].sequence_id


async def test_smart_contract_wallet_verification(client: NodeClient) -> None:
    results = await client.verify_smart_contract_wallet_signatures(
        [ScwSignature("eip155:1:0x" + "11" * 20, b"\x00" * 32, b"sig", block_number=5), ScwSignature("a", b"h", b"s")]
    )
    # devnode has no chain access: it answers every signature, as invalid, with a reason.
    assert [r.is_valid for r in results] == [False, False]
    assert all(r.error for r in results)


async def test_empty_batches_make_no_call() -> None:
    async with NodeClient.for_url(f"http://127.0.0.1:{_closed_port()}") as nowhere:
        await nowhere.send_group_messages([])
        await nowhere.send_welcome_messages([])
        assert await nowhere.get_inbox_ids([]) == {}
        assert await nowhere.get_identity_updates({}) == {}


async def test_invalid_argument_is_rejected(client: NodeClient) -> None:
    with pytest.raises(NodeRejected) as raised:
        await client.send_group_messages([b"not an MLS message"])
    err = raised.value
    assert err.code == grpc.StatusCode.INVALID_ARGUMENT
    assert err.method == "SendGroupMessages" and not err.retryable and err.message
    with pytest.raises(NodeRejected):
        await client.query_group_messages(b"")
    with pytest.raises(NodeRejected):
        await client.upload_key_package(b"\x00\x01garbage")


async def test_stream_with_bad_filter_is_rejected(client: NodeClient) -> None:
    stream = client.open_group_stream({b"": 0})  # an empty group id is refused when the stream opens
    with pytest.raises(NodeRejected) as raised:
        await stream.read()
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_closed_port_is_unavailable() -> None:
    async with NodeClient.for_url(f"http://127.0.0.1:{_closed_port()}", call_timeout_s=10.0) as nowhere:
        with pytest.raises(NodeUnavailable) as raised:
            await nowhere.query_group_messages(b"g")
    assert raised.value.retryable and raised.value.code == grpc.StatusCode.UNAVAILABLE
    assert isinstance(raised.value, NodeError)


async def test_oversized_request_is_refused_before_sending() -> None:
    # The port is closed: reaching the network would give NodeUnavailable instead.
    async with NodeClient.for_url(f"http://127.0.0.1:{_closed_port()}", max_send_bytes=1000) as small:
        with pytest.raises(NodeRejected, match="send limit is 1000") as raised:
            await small.send_group_messages([group_message(b"g", b"x" * 2000)])
    assert not raised.value.retryable


async def test_bad_paging_arguments_fail_before_calling(client: NodeClient) -> None:
    with pytest.raises(ValueError):
        await client.query_group_messages(b"g", limit=0)
    with pytest.raises(ValueError):
        await client.query_group_messages(b"g", limit=101)
    with pytest.raises(ValueError):
        await client.query_welcome_messages(b"k", cursor=-1)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_raw_stream_connects_then_replays(client: NodeClient) -> None:
    sent = group_message(b"raw", b"one")
    await client.send_group_messages([sent])
    stream = client.open_group_stream({b"raw": 0})
    try:
        await stream.wait_connected()
        first = await stream.read()
        assert first is not None and first.data == sent
    finally:
        stream.cancel()


async def test_raw_stream_to_a_closed_port_is_unavailable() -> None:
    async with NodeClient.for_url(f"http://127.0.0.1:{_closed_port()}") as nowhere:
        stream = nowhere.open_welcome_stream({b"k": 0})
        with pytest.raises(NodeUnavailable):
            await stream.wait_connected()
