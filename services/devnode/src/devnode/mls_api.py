"""The xmtp.mls.api.v1.MlsApi gRPC service: request validation and mapping onto the store and streams."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message
from sqlalchemy.exc import SQLAlchemyError
from xmtp_core.protos.mls.api.v1 import mls_pb2, mls_pb2_grpc
from xmtp_core.untrusted import clean

from devnode import convert
from devnode.broker import Broker, RowT, SubscriptionRefused
from devnode.errors import InvalidInput
from devnode.identity_validation import check_key_package_upload
from devnode.limits import (
    MAX_IDS_PER_REQUEST,
    MAX_PAGE_SIZE,
    MAX_PAYLOAD_BYTES,
    MAX_REQUEST_BYTES,
    MAX_RESPONSE_BYTES,
    MAX_SMALL_FIELD_BYTES,
    MAX_TOPIC_BYTES,
    MAX_TOPICS_PER_SUBSCRIPTION,
)
from devnode.mls_checks import group_message_header, key_package_inbox_id, verify_key_package
from devnode.models import (
    InstallationStanding,
    NewCommitLogEntry,
    NewGroupMessage,
    NewWelcome,
    Paging,
    WelcomeKind,
)
from devnode.node import Node
from devnode.streams import Replay, SubscriberTooSlow, stream_rows

log = logging.getLogger(__name__)
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
REASON_LIMIT = 500  # characters of an INVALID_ARGUMENT reason
Handler = Callable[[Any, Req, grpc.aio.ServicerContext[Any, Any]], Awaitable[Resp]]


def invalid_argument(fn: Handler[Req, Resp]) -> Handler[Req, Resp]:
    """Map a unary handler's failures to gRPC status: `InvalidInput` → INVALID_ARGUMENT with the reason,
    database/connection errors → UNAVAILABLE (logged with traceback)."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Req, context: grpc.aio.ServicerContext[Any, Any]) -> Resp:
        try:
            check_request_size(request)
            return await fn(self, request, context)
        except InvalidInput as exc:
            # Reasons quote request fields: cleaned and cut once more here, whatever built them.
            reason = clean(str(exc), REASON_LIMIT)
            # Logged because a rejected client call is the first thing to look for in interop failures.
            log.info("%s rejected: %s", fn.__name__, reason)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, reason)
            raise  # abort() raises; this keeps type checkers happy
        except (SQLAlchemyError, OSError) as exc:
            log.exception("%s failed on the database", fn.__name__)
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"database error: {type(exc).__name__}")
            raise

    return wrapper


def check_request_size(request: Message) -> None:
    size = request.ByteSize()
    if size > MAX_REQUEST_BYTES:
        raise InvalidInput(f"request is {size} bytes; the limit is {MAX_REQUEST_BYTES}")


def _payload(data: bytes, what: str) -> bytes:
    if not data:
        raise InvalidInput(f"{what} is empty")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise InvalidInput(f"{what} is {len(data)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    return data


def _small(data: bytes, what: str, limit: int = MAX_SMALL_FIELD_BYTES) -> bytes:
    if len(data) > limit:
        raise InvalidInput(f"{what} is {len(data)} bytes; the limit is {limit}")
    return data


def _topic(data: bytes, what: str) -> bytes:
    if not data:
        raise InvalidInput(f"{what} is empty")
    return _small(data, what, MAX_TOPIC_BYTES)


def _group_input(index: int, message: mls_pb2.GroupMessageInput) -> NewGroupMessage:
    if message.WhichOneof("version") != "v1":
        raise InvalidInput(f"messages[{index}]: no v1 message")
    data = _payload(message.v1.data, f"messages[{index}].data")
    try:
        header = group_message_header(data)
    except InvalidInput as exc:
        raise InvalidInput(f"messages[{index}]: {exc}") from exc
    return NewGroupMessage(
        group_id=header.group_id,
        data=data,
        sender_hmac=_small(message.v1.sender_hmac, f"messages[{index}].sender_hmac"),
        should_push=message.v1.should_push,
        is_commit=header.is_commit,
    )


def _welcome_input(index: int, message: mls_pb2.WelcomeMessageInput) -> NewWelcome:
    version = message.WhichOneof("version")
    what = f"messages[{index}]"
    if version == "v1":
        v1 = message.v1
        return NewWelcome(
            installation_key=_topic(v1.installation_key, f"{what}.installation_key"),
            kind=WelcomeKind.V1,
            data=_payload(v1.data, f"{what}.data"),
            hpke_public_key=_small(v1.hpke_public_key, f"{what}.hpke_public_key"),
            wrapper_algorithm=v1.wrapper_algorithm,
            welcome_metadata=_small(v1.welcome_metadata, f"{what}.welcome_metadata"),
        )
    if version == "welcome_pointer":
        ptr = message.welcome_pointer
        return NewWelcome(
            installation_key=_topic(ptr.installation_key, f"{what}.installation_key"),
            kind=WelcomeKind.POINTER,
            data=_payload(ptr.welcome_pointer, f"{what}.welcome_pointer"),
            hpke_public_key=_small(ptr.hpke_public_key, f"{what}.hpke_public_key"),
            wrapper_algorithm=ptr.wrapper_algorithm,
            welcome_metadata=b"",
        )
    raise InvalidInput(f"{what}: neither v1 nor welcome_pointer is set")


def distinct_ids(values: Sequence[bytes], what: str) -> list[bytes]:
    """A request's list of ids, refused when empty entries, repeats or more than MAX_IDS_PER_REQUEST appear:
    each id is answered in full, so a repeated one would let a tiny request ask for the same large row again
    and again."""
    if len(values) > MAX_IDS_PER_REQUEST:
        raise InvalidInput(f"{what} has {len(values)} entries; the limit is {MAX_IDS_PER_REQUEST}")
    seen: dict[bytes, int] = {}
    for index, value in enumerate(values):
        _topic(value, f"{what}[{index}]")
        first = seen.setdefault(value, index)
        if first != index:
            raise InvalidInput(f"{what}[{index}] repeats {what}[{first}]")
    return list(values)


def _cursors(filters: list[tuple[bytes, int]], what: str) -> dict[bytes, int]:
    if len(filters) > MAX_TOPICS_PER_SUBSCRIPTION:
        raise InvalidInput(f"filters has {len(filters)} entries; the limit is {MAX_TOPICS_PER_SUBSCRIPTION}")
    cursors: dict[bytes, int] = {}
    for index, (topic, cursor) in enumerate(filters):
        _topic(topic, f"filters[{index}].{what}")
        # A topic listed twice replays from the smaller cursor; the high-water mark prevents duplicates.
        cursor = min(cursor, convert.MAX_ID)
        cursors[topic] = min(cursor, cursors.get(topic, cursor))
    return cursors


def _trim_to_response_size(rows: list[RowT]) -> tuple[list[RowT], bool]:
    total = 0
    for index, row in enumerate(rows):
        total += row.size
        if total > MAX_RESPONSE_BYTES and index > 0:
            return rows[:index], True
    return rows, False


async def _query_page(
    topic: bytes,
    what: str,
    paging_info: mls_pb2.PagingInfo,
    query: Callable[[bytes, Paging], Awaitable[list[RowT]]],
    to_proto: Callable[[RowT], Resp],
) -> tuple[list[Resp], mls_pb2.PagingInfo]:
    """One page of a topic's rows as protos, cut to the response size limit, and the next-page paging info."""
    _topic(topic, what)
    paging = convert.paging_from(paging_info)
    rows, truncated = _trim_to_response_size(await query(topic, paging))
    return [to_proto(r) for r in rows], convert.paging_reply(paging, [r.id for r in rows], truncated)


async def _subscribe(
    context: grpc.aio.ServicerContext[Any, Any],
    filters: list[tuple[bytes, int]],
    what: str,
    broker: Broker[RowT],
    replay: Replay[RowT],
    to_proto: Callable[[RowT], Resp],
) -> AsyncIterator[Resp]:
    """A subscription stream: bad filters abort with INVALID_ARGUMENT and a full node with RESOURCE_EXHAUSTED,
    both before the `subscribed` header is sent; a reader that falls too far behind is cut off with
    RESOURCE_EXHAUSTED (it resubscribes from its last id)."""
    try:
        cursors = _cursors(filters, what)
        sub = broker.subscribe(cursors.keys(), context.peer())
    except InvalidInput as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, clean(str(exc), REASON_LIMIT))
    except SubscriptionRefused as exc:
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    try:
        await context.send_initial_metadata((("subscribed", "true"),))
        async for batch in stream_rows(sub, cursors, replay):
            for row in batch:
                yield to_proto(row)
    except SubscriberTooSlow as exc:
        log.info("%s subscriber %s cut off: %s", what, clean(context.peer()), exc)
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
    finally:
        sub.close()  # also when the stream never started (the client left during send_initial_metadata)


class MlsApi(mls_pb2_grpc.MlsApiServicer):
    """MlsApi backed by `Node`; unary handlers raise `InvalidInput` for bad requests (→ INVALID_ARGUMENT)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    @invalid_argument
    async def SendGroupMessages(self, request: mls_pb2.SendGroupMessagesRequest, context: Any) -> empty_pb2.Empty:
        if not request.messages:
            raise InvalidInput("no messages to publish")
        # Validate everything before storing anything: the request is all-or-nothing.
        messages = [_group_input(i, m) for i, m in enumerate(request.messages)]
        await self.node.send_group_messages(messages)
        return empty_pb2.Empty()

    @invalid_argument
    async def SendWelcomeMessages(self, request: mls_pb2.SendWelcomeMessagesRequest, context: Any) -> empty_pb2.Empty:
        if not request.messages:
            raise InvalidInput("no welcome messages to publish")
        welcomes = [_welcome_input(i, m) for i, m in enumerate(request.messages)]
        await self.node.send_welcomes(welcomes)
        return empty_pb2.Empty()

    async def _store_key_package(self, upload: mls_pb2.KeyPackageUpload, present: bool) -> bytes:
        if not present:
            raise InvalidInput("no key_package")
        data = _payload(upload.key_package_tls_serialized, "key_package.key_package_tls_serialized")
        verified = verify_key_package(data)
        inbox_id = key_package_inbox_id(verified.key_package)
        key = verified.installation_key

        def check(standing: InstallationStanding) -> None:
            check_key_package_upload(standing, inbox_id, key)

        identity = verified.key_package.leaf_node.credential.identity
        await self.node.store.upsert_key_package(
            key, data, identity, verified.lifetime.not_after, inbox_id=inbox_id, check=check
        )
        return key

    @invalid_argument
    async def UploadKeyPackage(self, request: mls_pb2.UploadKeyPackageRequest, context: Any) -> empty_pb2.Empty:
        await self._store_key_package(request.key_package, request.HasField("key_package"))
        return empty_pb2.Empty()

    @invalid_argument
    async def RegisterInstallation(
        self, request: mls_pb2.RegisterInstallationRequest, context: Any
    ) -> mls_pb2.RegisterInstallationResponse:
        key = await self._store_key_package(request.key_package, request.HasField("key_package"))
        return mls_pb2.RegisterInstallationResponse(installation_key=key)

    @invalid_argument
    async def FetchKeyPackages(
        self, request: mls_pb2.FetchKeyPackagesRequest, context: Any
    ) -> mls_pb2.FetchKeyPackagesResponse:
        # One entry per requested key, in request order; an unknown key gets an empty entry (node-go
        # leaves a nil element, which goes on the wire as an empty message).
        if len(request.installation_keys) > MAX_IDS_PER_REQUEST:
            raise InvalidInput(
                f"installation_keys has {len(request.installation_keys)} entries; the limit is {MAX_IDS_PER_REQUEST}"
            )
        found = await self.node.store.fetch_key_packages(list(request.installation_keys))
        Entry = mls_pb2.FetchKeyPackagesResponse.KeyPackage
        return mls_pb2.FetchKeyPackagesResponse(
            key_packages=[Entry(key_package_tls_serialized=found.get(key, b"")) for key in request.installation_keys]
        )

    @invalid_argument
    async def QueryGroupMessages(
        self, request: mls_pb2.QueryGroupMessagesRequest, context: Any
    ) -> mls_pb2.QueryGroupMessagesResponse:
        messages, paging_info = await _query_page(
            request.group_id,
            "group_id",
            request.paging_info,
            self.node.store.query_group_messages,
            convert.group_message,
        )
        return mls_pb2.QueryGroupMessagesResponse(messages=messages, paging_info=paging_info)

    @invalid_argument
    async def QueryWelcomeMessages(
        self, request: mls_pb2.QueryWelcomeMessagesRequest, context: Any
    ) -> mls_pb2.QueryWelcomeMessagesResponse:
        messages, paging_info = await _query_page(
            request.installation_key,
            "installation_key",
            request.paging_info,
            self.node.store.query_welcomes,
            convert.welcome_message,
        )
        return mls_pb2.QueryWelcomeMessagesResponse(messages=messages, paging_info=paging_info)

    async def SubscribeGroupMessages(
        self, request: mls_pb2.SubscribeGroupMessagesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[mls_pb2.GroupMessage]:
        filters = [(f.group_id, f.id_cursor) for f in request.filters]
        store = self.node.store
        async for message in _subscribe(
            context, filters, "group_id", self.node.groups, store.replay_group_messages, convert.group_message
        ):
            yield message

    async def SubscribeWelcomeMessages(
        self, request: mls_pb2.SubscribeWelcomeMessagesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[mls_pb2.WelcomeMessage]:
        filters = [(f.installation_key, f.id_cursor) for f in request.filters]
        store = self.node.store
        async for message in _subscribe(
            context, filters, "installation_key", self.node.welcomes, store.replay_welcomes, convert.welcome_message
        ):
            yield message

    @invalid_argument
    async def GetNewestGroupMessage(
        self, request: mls_pb2.GetNewestGroupMessageRequest, context: Any
    ) -> mls_pb2.GetNewestGroupMessageResponse:
        group_ids = distinct_ids(request.group_ids, "group_ids")
        newest = await self.node.store.newest_group_messages(
            group_ids, include_content=request.include_content, max_bytes=MAX_RESPONSE_BYTES
        )
        Response = mls_pb2.GetNewestGroupMessageResponse.Response
        responses = []
        for group_id in group_ids:
            row = newest.get(group_id)
            responses.append(Response(group_message=convert.group_message(row)) if row else Response())
        return mls_pb2.GetNewestGroupMessageResponse(responses=responses)

    @invalid_argument
    async def BatchPublishCommitLog(
        self, request: mls_pb2.BatchPublishCommitLogRequest, context: Any
    ) -> empty_pb2.Empty:
        entries = []
        for i, entry in enumerate(request.requests):
            _topic(entry.group_id, f"requests[{i}].group_id")
            if not entry.HasField("signature"):
                raise InvalidInput(f"requests[{i}].signature is missing")
            data = _payload(entry.serialized_commit_log_entry, f"requests[{i}].serialized_commit_log_entry")
            entries.append(NewCommitLogEntry(entry.group_id, data, entry.signature.SerializeToString()))
        if entries:
            await self.node.store.insert_commit_log(entries)
        return empty_pb2.Empty()

    @invalid_argument
    async def BatchQueryCommitLog(
        self, request: mls_pb2.BatchQueryCommitLogRequest, context: Any
    ) -> mls_pb2.BatchQueryCommitLogResponse:
        if len(request.requests) > MAX_IDS_PER_REQUEST:
            raise InvalidInput(f"requests has {len(request.requests)} entries; the limit is {MAX_IDS_PER_REQUEST}")
        for i, query in enumerate(request.requests):
            _topic(query.group_id, f"requests[{i}].group_id")
            if query.paging_info.direction == convert.DESC:
                raise InvalidInput(f"requests[{i}]: descending direction is not supported for the commit log")
        # One byte budget for the whole answer: each page is cut where the budget runs out and carries a
        # cursor for the rest (a page that got nothing keeps the caller's own cursor), so a client that
        # pages on always makes progress and no batch is larger than the response cap.
        budget = MAX_RESPONSE_BYTES
        responses = []
        for query in request.requests:
            paging = convert.paging_from(query.paging_info, default_ascending=True)
            rows, cut = await self.node.store.query_commit_log(
                query.group_id, paging.cursor, min(paging.limit, MAX_PAGE_SIZE), budget
            )
            budget -= sum(r.size for r in rows)
            reply = convert.paging_reply(paging, [r.id for r in rows], cut)
            if cut and not rows:
                reply.id_cursor = paging.cursor
            responses.append(
                mls_pb2.QueryCommitLogResponse(
                    group_id=query.group_id,
                    commit_log_entries=[convert.commit_log_entry(r) for r in rows],
                    paging_info=reply,
                )
            )
        return mls_pb2.BatchQueryCommitLogResponse(responses=responses)

    async def RevokeInstallation(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> empty_pb2.Empty:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "RevokeInstallation is deprecated; use identity updates")
        raise AssertionError("unreachable")

    async def GetIdentityUpdates(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "use xmtp.identity.api.v1.IdentityApi/GetIdentityUpdates")
        raise AssertionError("unreachable")

    async def Subscribe(self, request_iterator: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "the bidirectional Subscribe is not implemented")
        raise AssertionError("unreachable")
