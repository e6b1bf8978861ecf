"""devnode's gRPC-web endpoint: the devnode tests of every call the browser SDK makes run here over both
transports (h2c and gRPC-web, `transport` parameter), a live subscription delivers within a second over both,
and the gRPC-web framing, CORS and hostile requests get typed answers."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import grpc
import pytest
from devnode.main import RunningNode, start
from devnode_testkit import private_message, send_request, welcome_v1
from grpc_web_client import HEADER, WebStub, parse_trailers, read_frames

# The devnode tests of the calls libxmtp makes from a browser, collected here a second time so they run
# with this module's fixtures: once per transport. Importing them is the parametrised run.
from test_identity import (  # noqa: F401
    test_builder_made_updates_are_accepted_and_served_back,
    test_get_identity_updates_keeps_request_order,
    test_inbox_ids_follow_link_unlink_and_relink,
    test_malformed_updates_are_refused,
    test_replayed_update_is_refused,
)
from test_mls_api import (  # noqa: F401
    test_bad_group_messages_are_rejected,
    test_bad_key_packages_rejected,
    test_commit_log_store_and_query,
    test_key_package_upsert_and_fetch_order,
    test_newest_group_message,
    test_paging_ascending_with_cursor,
    test_register_installation_returns_key,
    test_send_and_query_round_trip,
    test_welcomes_v1_and_pointer_round_trip,
)
from test_streams import (  # noqa: F401
    test_cancel_then_resubscribe_from_last_id,
    test_empty_filters_stream_nothing_and_end_cleanly_on_shutdown,
    test_empty_group_id_filter_is_invalid,
    test_multiple_groups_with_separate_cursors,
    test_replay_live_handover_has_no_gaps_or_duplicates,
    test_subscribed_header_and_replay_from_cursor,
    test_welcome_stream_replays_then_goes_live,
)
from xmtp_core.protos.identity.api.v1 import identity_pb2, identity_pb2_grpc
from xmtp_core.protos.mls.api.v1 import mls_pb2, mls_pb2_grpc

GRPC_WEB = "application/grpc-web+proto"
HANG_GUARD_S = 30


pytestmark = pytest.mark.grpc_web  # the conftest's devnode (`node`) with its gRPC-web port


@pytest.fixture
def web_url(node: RunningNode) -> str:
    return f"http://127.0.0.1:{node.grpc_web_port}"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture(params=["h2c", "grpc-web"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def channel(node: RunningNode) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{node.port}") as ch:
        yield ch


@pytest.fixture
def mls(transport: str, channel: grpc.aio.Channel, session: aiohttp.ClientSession, web_url: str) -> Any:
    if transport == "h2c":
        return mls_pb2_grpc.MlsApiStub(channel)
    return WebStub(session, web_url, mls_pb2, "MlsApi")


@pytest.fixture
def identity(transport: str, channel: grpc.aio.Channel, session: aiohttp.ClientSession, web_url: str) -> Any:
    if transport == "h2c":
        return identity_pb2_grpc.IdentityApiStub(channel)
    return WebStub(session, web_url, identity_pb2, "IdentityApi")


Filter = mls_pb2.SubscribeGroupMessagesRequest.Filter


async def test_live_group_message_arrives_within_a_second(mls: Any) -> None:
    call = mls.SubscribeGroupMessages(mls_pb2.SubscribeGroupMessagesRequest(filters=[Filter(group_id=b"g")]))
    assert ("subscribed", "true") in list(await asyncio.wait_for(call.initial_metadata(), HANG_GUARD_S))
    sent = time.monotonic()
    await mls.SendGroupMessages(send_request(private_message(b"g", ciphertext=b"live")))
    got = await asyncio.wait_for(call.read(), HANG_GUARD_S)
    elapsed = time.monotonic() - sent
    assert got.v1.data.endswith(b"live")
    assert elapsed < 1.0, f"live message took {elapsed:.3f}s"
    call.cancel()


async def test_live_welcome_arrives_within_a_second(mls: Any) -> None:
    wf = mls_pb2.SubscribeWelcomeMessagesRequest.Filter
    call = mls.SubscribeWelcomeMessages(mls_pb2.SubscribeWelcomeMessagesRequest(filters=[wf(installation_key=b"k")]))
    await asyncio.wait_for(call.initial_metadata(), HANG_GUARD_S)
    sent = time.monotonic()
    await mls.SendWelcomeMessages(mls_pb2.SendWelcomeMessagesRequest(messages=[welcome_v1(b"k", b"w")]))
    got = await asyncio.wait_for(call.read(), HANG_GUARD_S)
    assert got.v1.data == b"w" and time.monotonic() - sent < 1.0
    call.cancel()


# --- gRPC-web only: framing, CORS, hostile requests -------------------------------------------------------


async def post(session: aiohttp.ClientSession, url: str, body: bytes, **headers: str) -> tuple[int, Any, bytes]:
    async with session.post(url, data=body, headers={"content-type": GRPC_WEB, **headers}) as resp:
        return resp.status, resp.headers, await resp.read()


def status_of(body: bytes) -> tuple[grpc.StatusCode, str]:
    offset = 0
    while offset < len(body):
        flags, length = HEADER.unpack_from(body, offset)
        payload = body[offset + HEADER.size : offset + HEADER.size + length]
        offset += HEADER.size + length
        if flags & 0x80:
            return parse_trailers(payload)
    raise AssertionError("no trailer frame")


def framed(data: bytes, flags: int = 0) -> bytes:
    return struct.pack(">BI", flags, len(data)) + data


async def test_preflight_allows_the_page_origin_and_grpc_web_headers(
    session: aiohttp.ClientSession, web_url: str
) -> None:
    headers = {
        "Origin": "http://127.0.0.1:5173",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-grpc-web,x-user-agent",
    }
    async with session.options(f"{web_url}/xmtp.identity.api.v1.IdentityApi/GetInboxIds", headers=headers) as r:
        assert r.status == 204
        assert r.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5173"
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        allowed = {h.strip() for h in r.headers["Access-Control-Allow-Headers"].split(",")}
        assert {"content-type", "x-grpc-web", "x-user-agent"} <= allowed
    req = identity_pb2.GetInboxIdsRequest()
    url = f"{web_url}/xmtp.identity.api.v1.IdentityApi/GetInboxIds"
    status, resp_headers, body = await post(session, url, framed(req.SerializeToString()), Origin=headers["Origin"])
    assert status == 200 and resp_headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5173"
    assert "grpc-status" in resp_headers["Access-Control-Expose-Headers"]
    assert status_of(body) == (grpc.StatusCode.OK, "")


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        (b"", grpc.StatusCode.INVALID_ARGUMENT, "not a gRPC-web frame"),
        (b"\x00\x00\x00", grpc.StatusCode.INVALID_ARGUMENT, "not a gRPC-web frame"),
        (b"\x00\x00\x00\x00\x09abc", grpc.StatusCode.INVALID_ARGUMENT, "exactly one message frame"),
        (framed(b"") + framed(b""), grpc.StatusCode.INVALID_ARGUMENT, "exactly one message frame"),
        (b"\x00\xff\xff\xff\xff", grpc.StatusCode.INVALID_ARGUMENT, "exactly one message frame"),
        (framed(b"", 0x80), grpc.StatusCode.INVALID_ARGUMENT, "unexpected frame flags 0x80"),
        (framed(b"", 0x42), grpc.StatusCode.INVALID_ARGUMENT, "unexpected frame flags 0x42"),
        (framed(b"x", 0x01), grpc.StatusCode.UNIMPLEMENTED, "compressed"),
        (framed(b"\xff\xff\xff"), grpc.StatusCode.INVALID_ARGUMENT, "not a valid protobuf"),
    ],
)
async def test_malformed_bodies_get_a_typed_status(
    session: aiohttp.ClientSession, web_url: str, body: bytes, code: grpc.StatusCode, reason: str
) -> None:
    url = f"{web_url}/xmtp.mls.api.v1.MlsApi/SendGroupMessages"
    status, _, reply = await post(session, url, body)
    assert status == 200
    got_code, details = status_of(reply)
    assert got_code == code and reason in details


async def test_unknown_method_wrong_content_type_and_verb(session: aiohttp.ClientSession, web_url: str) -> None:
    status, _, reply = await post(session, f"{web_url}/xmtp.mls.api.v1.MlsApi/Nope\x7f", framed(b""))
    assert status == 200 and status_of(reply)[0] == grpc.StatusCode.UNIMPLEMENTED
    assert "\x7f" not in status_of(reply)[1]  # attacker text is cleaned before it is echoed
    # the bidirectional stream cannot be carried by gRPC-web
    status, _, reply = await post(session, f"{web_url}/xmtp.mls.api.v1.MlsApi/Subscribe", framed(b""))
    assert status_of(reply)[0] == grpc.StatusCode.UNIMPLEMENTED
    url = f"{web_url}/xmtp.mls.api.v1.MlsApi/SendGroupMessages"
    status, headers, _ = await post(session, url, framed(b""), **{"content-type": "application/json"})
    assert status == 415 and "Access-Control-Allow-Origin" in headers
    async with session.get(url) as r:
        assert r.status == 405


async def test_invalid_argument_details_are_percent_encoded_and_clean(
    session: aiohttp.ClientSession, web_url: str
) -> None:
    # An id list beyond the cap is refused with a reason; the reason survives the trailer encoding.
    req = mls_pb2.FetchKeyPackagesRequest(installation_keys=[b"%d" % i for i in range(1001)])
    url = f"{web_url}/xmtp.mls.api.v1.MlsApi/FetchKeyPackages"
    _, _, reply = await post(session, url, framed(req.SerializeToString()))
    code, details = status_of(reply)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "1000" in details


async def test_closing_a_stream_releases_its_subscription(
    session: aiohttp.ClientSession, web_url: str, node: RunningNode
) -> None:
    stub = WebStub(session, web_url, mls_pb2, "MlsApi")
    call = stub.SubscribeGroupMessages(mls_pb2.SubscribeGroupMessagesRequest(filters=[Filter(group_id=b"g")]))
    await asyncio.wait_for(call.initial_metadata(), HANG_GUARD_S)
    assert node.node.groups.subscriber_count == 1
    call.cancel()

    async def released() -> None:
        while node.node.groups.subscriber_count:  # noqa: ASYNC110 - server-side state with no event to await
            await asyncio.sleep(0.01)

    await asyncio.wait_for(released(), HANG_GUARD_S)


async def test_node_stop_ends_web_streams_with_ok(session: aiohttp.ClientSession, database_url: str) -> None:
    running = await start("127.0.0.1:0", database_url, grpc_web_listen="127.0.0.1:0")
    url = f"http://127.0.0.1:{running.grpc_web_port}/xmtp.mls.api.v1.MlsApi/SubscribeGroupMessages"
    req = mls_pb2.SubscribeGroupMessagesRequest(filters=[Filter(group_id=b"g")])
    async with session.post(url, data=framed(req.SerializeToString()), headers={"content-type": GRPC_WEB}) as r:
        assert r.headers["subscribed"] == "true"
        await running.stop(grace=1.0)
        frames = [f async for f in read_frames(r.content)]
    assert frames and frames[-1][0] == 0x80 and parse_trailers(frames[-1][1])[0] == grpc.StatusCode.OK


async def test_a_servicer_bug_is_internal_without_its_message(
    session: aiohttp.ClientSession, web_url: str, node: RunningNode, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    async def broken(*args: Any) -> None:
        raise RuntimeError("secret \x00 request bytes")

    monkeypatch.setattr(node.node.store, "query_group_messages", broken)
    req = mls_pb2.QueryGroupMessagesRequest(group_id=b"g")
    url = f"{web_url}/xmtp.mls.api.v1.MlsApi/QueryGroupMessages"
    _, _, reply = await post(session, url, framed(req.SerializeToString()))
    assert status_of(reply) == (grpc.StatusCode.INTERNAL, "internal error")
    assert "secret" not in caplog.text and "RuntimeError" in caplog.text


async def test_a_body_over_grpcs_cap_is_resource_exhausted(session: aiohttp.ClientSession, web_url: str) -> None:
    from devnode.limits import GRPC_MAX_MESSAGE_BYTES

    body = framed(b"\0" * (GRPC_MAX_MESSAGE_BYTES + 1))  # what gRPC's own cap answers on h2c
    url = f"{web_url}/xmtp.mls.api.v1.MlsApi/SendGroupMessages"
    _, _, reply = await post(session, url, body)
    code, details = status_of(reply)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and str(GRPC_MAX_MESSAGE_BYTES) in details
