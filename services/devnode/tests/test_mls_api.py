"""MlsApi over real gRPC and Postgres: sending, paging, duplicates, key packages, commit log, bad input."""

from __future__ import annotations

import grpc
import pytest
from devnode.limits import MAX_PAYLOAD_BYTES, MAX_REQUEST_BYTES
from devnode_testkit import (
    KeyPackageParts,
    key_package,
    private_message,
    public_message,
    send_request,
    upload_request,
    welcome_pointer,
    welcome_v1,
)
from xmtp_core.protos.identity.associations import signature_pb2
from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.protos.mls.api.v1.mls_pb2_grpc import MlsApiStub

ASC = mls_pb2.SORT_DIRECTION_ASCENDING
DESC = mls_pb2.SORT_DIRECTION_DESCENDING


def query(group_id: bytes, direction: int = 0, limit: int = 0, cursor: int = 0) -> mls_pb2.QueryGroupMessagesRequest:
    paging = mls_pb2.PagingInfo(direction=direction, limit=limit, id_cursor=cursor)  # type: ignore[arg-type]
    return mls_pb2.QueryGroupMessagesRequest(group_id=group_id, paging_info=paging)


async def send_many(mls: MlsApiStub, group_id: bytes, n: int) -> list[bytes]:
    datas = [private_message(group_id, ciphertext=b"m%04d" % i) for i in range(n)]
    await mls.SendGroupMessages(send_request(*datas))
    return datas


async def test_send_and_query_round_trip(mls: MlsApiStub) -> None:
    commit = private_message(b"g", content_type=3)
    app = private_message(b"g", content_type=1)
    await mls.SendGroupMessages(send_request(commit, app))
    resp = await mls.QueryGroupMessages(query(b"g", ASC))
    got = [m.v1 for m in resp.messages]
    assert [m.data for m in got] == [commit, app]
    assert [m.is_commit for m in got] == [True, False]
    assert all(m.group_id == b"g" and m.sender_hmac == b"hmac" and m.should_push and m.created_ns > 0 for m in got)
    assert got[0].id < got[1].id


async def test_public_message_is_accepted_and_classified(mls: MlsApiStub) -> None:
    await mls.SendGroupMessages(send_request(public_message(b"pub", content_type=3)))
    resp = await mls.QueryGroupMessages(query(b"pub"))
    assert [m.v1.is_commit for m in resp.messages] == [True]


async def test_paging_ascending_with_cursor(mls: MlsApiStub) -> None:
    datas = await send_many(mls, b"g", 7)
    await send_many(mls, b"other", 3)
    seen: list[bytes] = []
    cursor = 0
    pages = 0
    while True:
        resp = await mls.QueryGroupMessages(query(b"g", ASC, limit=3, cursor=cursor))
        seen += [m.v1.data for m in resp.messages]
        pages += 1
        if resp.paging_info.id_cursor == 0:
            break
        assert resp.paging_info.id_cursor == resp.messages[-1].v1.id
        cursor = resp.paging_info.id_cursor
    assert seen == datas
    assert pages == 3


async def test_paging_descending_and_default_direction(mls: MlsApiStub) -> None:
    datas = await send_many(mls, b"g", 5)
    first = await mls.QueryGroupMessages(query(b"g", DESC, limit=2))
    assert [m.v1.data for m in first.messages] == datas[::-1][:2]
    assert first.paging_info.direction == DESC
    rest = await mls.QueryGroupMessages(query(b"g", DESC, limit=10, cursor=first.paging_info.id_cursor))
    assert [m.v1.data for m in rest.messages] == datas[::-1][2:]
    assert rest.paging_info.id_cursor == 0  # short page: no next cursor
    default = await mls.QueryGroupMessages(mls_pb2.QueryGroupMessagesRequest(group_id=b"g"))
    assert [m.v1.data for m in default.messages] == datas[::-1]
    assert default.paging_info.limit == 100


async def test_limit_above_max_is_capped(mls: MlsApiStub) -> None:
    await send_many(mls, b"g", 105)
    resp = await mls.QueryGroupMessages(query(b"g", ASC, limit=1000))
    assert len(resp.messages) == 100
    assert resp.paging_info.id_cursor == resp.messages[-1].v1.id


async def test_duplicates_are_silently_skipped(mls: MlsApiStub) -> None:
    a, b = private_message(b"g"), private_message(b"g")
    await mls.SendGroupMessages(send_request(a, a, b))
    await mls.SendGroupMessages(send_request(b))
    resp = await mls.QueryGroupMessages(query(b"g", ASC))
    assert [m.v1.data for m in resp.messages] == [a, b]


async def test_ids_are_global_across_groups(mls: MlsApiStub) -> None:
    await mls.SendGroupMessages(send_request(private_message(b"a"), private_message(b"b"), private_message(b"a")))
    a = await mls.QueryGroupMessages(query(b"a", ASC))
    b = await mls.QueryGroupMessages(query(b"b", ASC))
    ids = sorted([m.v1.id for m in a.messages] + [m.v1.id for m in b.messages])
    assert len(set(ids)) == 3
    assert b.messages[0].v1.id not in [m.v1.id for m in a.messages]


async def expect_invalid(call: object, match: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await call  # type: ignore[misc]
    assert excinfo.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert match in (excinfo.value.details() or "")


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (mls_pb2.SendGroupMessagesRequest(), "no messages"),
        (mls_pb2.SendGroupMessagesRequest(messages=[mls_pb2.GroupMessageInput()]), "no v1"),
        (send_request(b""), "empty"),
        (send_request(b"\x00\x01\x00\x02garbage"), "MLS"),
        (send_request(b"\x00\x01\x00\x02\x00" + bytes(8) + b"\x01\x00\x00\x01x"), "empty group_id"),
        (send_request(b"\x00\x01\x00\x05" + bytes(20)), "wire format 5"),
        (send_request(private_message(b"g", ciphertext=bytes(MAX_PAYLOAD_BYTES))), "limit"),
    ],
)
async def test_bad_group_messages_are_rejected(
    mls: MlsApiStub, request_: mls_pb2.SendGroupMessagesRequest, reason: str
) -> None:
    await expect_invalid(mls.SendGroupMessages(request_), reason)


async def test_bad_message_rejects_whole_request(mls: MlsApiStub) -> None:
    good = private_message(b"g")
    await expect_invalid(mls.SendGroupMessages(send_request(good, b"junk")), "messages[1]")
    resp = await mls.QueryGroupMessages(query(b"g"))
    assert list(resp.messages) == []


async def test_oversize_request_is_invalid_argument(mls: MlsApiStub) -> None:
    chunk = private_message(b"g", ciphertext=bytes(MAX_PAYLOAD_BYTES - 1024))
    datas = [chunk[:-1] + bytes([i]) for i in range(MAX_REQUEST_BYTES // MAX_PAYLOAD_BYTES + 2)]
    await expect_invalid(mls.SendGroupMessages(send_request(*datas)), "limit")
    assert list((await mls.QueryGroupMessages(query(b"g"))).messages) == []


async def test_query_requires_group_id(mls: MlsApiStub) -> None:
    await expect_invalid(mls.QueryGroupMessages(query(b"")), "group_id")
    await expect_invalid(mls.QueryWelcomeMessages(mls_pb2.QueryWelcomeMessagesRequest()), "installation_key")


async def test_welcomes_v1_and_pointer_round_trip(mls: MlsApiStub) -> None:
    inst = b"\x01" * 32
    req = mls_pb2.SendWelcomeMessagesRequest(
        messages=[welcome_v1(inst, b"w1"), welcome_pointer(inst, b"ptr"), welcome_v1(b"\x02" * 32, b"w2")]
    )
    await mls.SendWelcomeMessages(req)
    await mls.SendWelcomeMessages(mls_pb2.SendWelcomeMessagesRequest(messages=[welcome_v1(inst, b"w1")]))  # dup
    paging = mls_pb2.PagingInfo(direction=ASC)
    resp = await mls.QueryWelcomeMessages(
        mls_pb2.QueryWelcomeMessagesRequest(installation_key=inst, paging_info=paging)
    )
    assert [m.WhichOneof("version") for m in resp.messages] == ["v1", "welcome_pointer"]
    v1, ptr = resp.messages[0].v1, resp.messages[1].welcome_pointer
    assert (v1.data, v1.welcome_metadata, v1.hpke_public_key, v1.wrapper_algorithm) == (b"w1", b"meta", b"hpke-pk", 2)
    assert (ptr.welcome_pointer, ptr.installation_key, ptr.wrapper_algorithm) == (b"ptr", inst, 2)
    assert ptr.id > v1.id


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (mls_pb2.WelcomeMessageInput(), "neither"),
        (welcome_v1(b"", b"data"), "installation_key"),
        (welcome_v1(b"k", b""), "data is empty"),
        (welcome_pointer(b"k", b""), "welcome_pointer is empty"),
    ],
)
async def test_bad_welcomes(mls: MlsApiStub, message: mls_pb2.WelcomeMessageInput, reason: str) -> None:
    await expect_invalid(mls.SendWelcomeMessages(mls_pb2.SendWelcomeMessagesRequest(messages=[message])), reason)


async def test_key_package_upsert_and_fetch_order(mls: MlsApiStub) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signer = Ed25519PrivateKey.generate()
    old, key = key_package(signer)
    new, _ = key_package(signer)
    other, other_key = key_package()
    await mls.UploadKeyPackage(upload_request(old))
    await mls.UploadKeyPackage(upload_request(other))
    await mls.UploadKeyPackage(upload_request(new))
    resp = await mls.FetchKeyPackages(mls_pb2.FetchKeyPackagesRequest(installation_keys=[other_key, b"\x09" * 32, key]))
    assert [k.key_package_tls_serialized for k in resp.key_packages] == [other, b"", new]


async def test_register_installation_returns_key(mls: MlsApiStub) -> None:
    kp, key = key_package()
    resp = await mls.RegisterInstallation(
        mls_pb2.RegisterInstallationRequest(key_package=mls_pb2.KeyPackageUpload(key_package_tls_serialized=kp))
    )
    assert resp.installation_key == key
    fetched = await mls.FetchKeyPackages(mls_pb2.FetchKeyPackagesRequest(installation_keys=[key]))
    assert fetched.key_packages[0].key_package_tls_serialized == kp


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (mls_pb2.UploadKeyPackageRequest(), "no key_package"),
        (upload_request(b""), "empty"),
        (upload_request(b"\xde\xad\xbe\xef"), "key package"),
        (upload_request(key_package(parts=KeyPackageParts(corrupt_signature=True))[0]), "signature"),
        (upload_request(key_package(parts=KeyPackageParts(not_before=1, not_after=2))[0]), "expired"),
    ],
)
async def test_bad_key_packages_rejected(
    mls: MlsApiStub, request_: mls_pb2.UploadKeyPackageRequest, reason: str
) -> None:
    await expect_invalid(mls.UploadKeyPackage(request_), reason)


async def test_newest_group_message(mls: MlsApiStub) -> None:
    await send_many(mls, b"a", 3)
    last_b = (await send_many(mls, b"b", 2))[-1]
    resp = await mls.GetNewestGroupMessage(
        mls_pb2.GetNewestGroupMessageRequest(group_ids=[b"b", b"missing", b"a"], include_content=True)
    )
    assert [r.HasField("group_message") for r in resp.responses] == [True, False, True]
    assert resp.responses[0].group_message.v1.data == last_b
    assert resp.responses[2].group_message.v1.data.endswith(b"m0002")
    bare = await mls.GetNewestGroupMessage(mls_pb2.GetNewestGroupMessageRequest(group_ids=[b"b"]))
    assert bare.responses[0].group_message.v1.data == b""
    assert bare.responses[0].group_message.v1.id == resp.responses[0].group_message.v1.id


def commit_entry(group_id: bytes, entry: bytes) -> mls_pb2.PublishCommitLogRequest:
    sig = signature_pb2.RecoverableEd25519Signature(bytes=b"s" * 64, public_key=b"p" * 32)
    return mls_pb2.PublishCommitLogRequest(group_id=group_id, serialized_commit_log_entry=entry, signature=sig)


async def test_commit_log_store_and_query(mls: MlsApiStub) -> None:
    await mls.BatchPublishCommitLog(
        mls_pb2.BatchPublishCommitLogRequest(
            requests=[commit_entry(b"g", b"e1"), commit_entry(b"h", b"x"), commit_entry(b"g", b"e2")]
        )
    )
    q = mls_pb2.QueryCommitLogRequest
    resp = await mls.BatchQueryCommitLog(
        mls_pb2.BatchQueryCommitLogRequest(
            requests=[q(group_id=b"g", paging_info=mls_pb2.PagingInfo(limit=1)), q(group_id=b"nothing")]
        )
    )
    first, empty = resp.responses
    assert [e.serialized_commit_log_entry for e in first.commit_log_entries] == [b"e1"]
    assert first.commit_log_entries[0].signature.public_key == b"p" * 32
    assert first.paging_info.id_cursor == first.commit_log_entries[0].sequence_id
    assert list(empty.commit_log_entries) == []
    rest = await mls.BatchQueryCommitLog(
        mls_pb2.BatchQueryCommitLogRequest(
            requests=[q(group_id=b"g", paging_info=mls_pb2.PagingInfo(id_cursor=first.paging_info.id_cursor))]
        )
    )
    assert [e.serialized_commit_log_entry for e in rest.responses[0].commit_log_entries] == [b"e2"]


async def test_commit_log_bad_input(mls: MlsApiStub) -> None:
    await expect_invalid(
        mls.BatchPublishCommitLog(mls_pb2.BatchPublishCommitLogRequest(requests=[commit_entry(b"", b"e")])),
        "group_id",
    )
    no_sig = mls_pb2.PublishCommitLogRequest(group_id=b"g", serialized_commit_log_entry=b"e")
    await expect_invalid(
        mls.BatchPublishCommitLog(mls_pb2.BatchPublishCommitLogRequest(requests=[no_sig])), "signature"
    )
    desc = mls_pb2.QueryCommitLogRequest(group_id=b"g", paging_info=mls_pb2.PagingInfo(direction=DESC))
    await expect_invalid(mls.BatchQueryCommitLog(mls_pb2.BatchQueryCommitLogRequest(requests=[desc])), "descending")


async def test_unused_rpcs_are_unimplemented(mls: MlsApiStub) -> None:
    for call in (
        mls.RevokeInstallation(mls_pb2.RevokeInstallationRequest()),
        mls.GetIdentityUpdates(mls_pb2.GetIdentityUpdatesRequest()),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as excinfo:
            await call
        assert excinfo.value.code() == grpc.StatusCode.UNIMPLEMENTED
    bidi = mls.Subscribe()
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await bidi.read()
    assert excinfo.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_database_outage_is_unavailable_not_unknown(mls: MlsApiStub, database_url: str) -> None:
    import asyncpg

    name = database_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(database_url.rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await mls.QueryGroupMessages(query(b"g"))
    assert excinfo.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_cursor_beyond_bigint_means_after_everything(mls: MlsApiStub) -> None:
    await send_many(mls, b"g", 2)
    asc = await mls.QueryGroupMessages(query(b"g", ASC, cursor=2**64 - 1))
    assert list(asc.messages) == []
    desc = await mls.QueryGroupMessages(query(b"g", DESC, cursor=2**64 - 1))
    assert len(desc.messages) == 2
