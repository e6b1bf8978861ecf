"""`NodeClient`: the async (grpc.aio) client of the XMTP V3 node API (xmtp.mls.api.v1.MlsApi and
xmtp.identity.api.v1.IdentityApi).

One channel per client; every unary call carries the settings' timeout and metadata, and every gRPC failure is
raised as a `NodeError` subclass. Raw streams (`open_group_stream` / `open_welcome_stream`) are the building block
of `xmtp_core.node.subscription`, which adds reconnects and cursors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar, cast

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message

from xmtp_core.node.errors import NodeRejected, bad_response, client_closed, from_rpc_error, from_status
from xmtp_core.node.models import (
    ETHEREUM,
    CommitLogEntry,
    CommitLogPage,
    CommitLogPublish,
    GroupMessage,
    IdentityUpdateLog,
    NewGroupMessage,
    NewWelcome,
    NewWelcomePointer,
    Page,
    ScwSignature,
    ScwVerification,
    WelcomeMessage,
    scw_verification_from_proto,
)
from xmtp_core.node.settings import NodeSettings
from xmtp_core.node.subscription import Subscription
from xmtp_core.protos.identity.api.v1 import identity_pb2
from xmtp_core.protos.identity.associations import association_pb2
from xmtp_core.protos.mls.api.v1 import mls_pb2

MLS = "/xmtp.mls.api.v1.MlsApi/"
IDENTITY = "/xmtp.identity.api.v1.IdentityApi/"
MAX_PAGE_SIZE = 100  # what xmtp-node-go serves at most per page
ASCENDING = mls_pb2.SORT_DIRECTION_ASCENDING
DESCENDING = mls_pb2.SORT_DIRECTION_DESCENDING

ResponseT = TypeVar("ResponseT", bound=Message)
ItemT = TypeVar("ItemT")
ProtoT = TypeVar("ProtoT", bound=Message)


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _method_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


class MessageStream(Generic[ItemT]):
    """One open server stream: `read()` gives the next item or None when the node ended the stream cleanly."""

    def __init__(
        self, method: str, call: grpc.aio.UnaryStreamCall[Message, ProtoT], convert: Callable[[ProtoT], ItemT]
    ) -> None:
        self._method = method
        self._call = call
        self._read_one: Callable[[], Awaitable[object]] = call.read
        self._convert: Callable[[Any], ItemT] = convert

    async def wait_connected(self) -> None:
        """Wait for the node's response headers (node-go and devnode send `subscribed: true` at once).

        A call that failed before any headers came back raises its error here.
        """
        try:
            await self._call.initial_metadata()
            if self._call.done():
                code = await self._call.code()
                if code != grpc.StatusCode.OK:
                    raise from_status(self._method, code, await self._call.details())
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(self._method, exc) from exc

    async def read(self) -> ItemT | None:
        try:
            item = await self._read_one()
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(self._method, exc) from exc
        except grpc.aio.UsageError as exc:
            raise client_closed(self._method) from exc
        if item is grpc.aio.EOF:
            return None
        try:
            return self._convert(item)
        except ValueError as exc:
            raise bad_response(self._method, str(exc)) from exc

    def cancel(self) -> None:
        self._call.cancel()


class NodeClient:
    """Async client of one XMTP node. Use `async with NodeClient.for_url(...) as node:` or call `close()`."""

    def __init__(self, settings: NodeSettings) -> None:
        self.settings = settings
        options = settings.channel_options()
        endpoint = settings.endpoint
        if endpoint.secure:
            credentials = grpc.ssl_channel_credentials(root_certificates=settings.root_certificates)
            self._channel = grpc.aio.secure_channel(endpoint.target, credentials, options)
        else:
            self._channel = grpc.aio.insecure_channel(endpoint.target, options)
        self._metadata = settings.metadata()
        self._unary_calls: dict[str, grpc.aio.UnaryUnaryMultiCallable[Message, Any]] = {}

    @classmethod
    def for_url(cls, url: str, **overrides: Any) -> NodeClient:
        return cls(NodeSettings.for_url(url, **overrides))

    @classmethod
    def from_env(cls, **overrides: Any) -> NodeClient:
        return cls(NodeSettings.from_env(**overrides))

    async def close(self, grace: float | None = None) -> None:
        await self._channel.close(grace)

    async def __aenter__(self) -> NodeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _call(self, path: str, request: Message, response: type[ResponseT]) -> ResponseT:
        self._check_size(path, request)
        rpc = self._unary_calls.get(path)
        if rpc is None:
            rpc = self._channel.unary_unary(
                path, request_serializer=_serialize, response_deserializer=response.FromString
            )
            self._unary_calls[path] = rpc
        try:
            result: ResponseT = await rpc(
                request,
                timeout=self.settings.call_timeout_s,
                metadata=self._metadata,
                wait_for_ready=self.settings.wait_for_ready,
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(_method_name(path), exc) from exc
        except grpc.aio.UsageError as exc:
            raise client_closed(_method_name(path)) from exc
        return result

    def _check_size(self, path: str, request: Message) -> None:
        # gRPC would refuse it as RESOURCE_EXHAUSTED, which reads as "retry later"; this can never succeed.
        size = request.ByteSize()
        if size > self.settings.max_send_bytes:
            limit = self.settings.max_send_bytes
            raise NodeRejected(_method_name(path), f"request is {size} bytes; the send limit is {limit}")

    def _open_stream(
        self, path: str, request: Message, response: type[ProtoT], convert: Callable[[ProtoT], ItemT]
    ) -> MessageStream[ItemT]:
        rpc = self._channel.unary_stream(path, request_serializer=_serialize, response_deserializer=response.FromString)
        try:
            call = rpc(request, metadata=self._metadata)
        except grpc.aio.UsageError as exc:
            raise client_closed(_method_name(path)) from exc
        return MessageStream(_method_name(path), call, convert)

    # --- MlsApi: publishing ---

    async def send_group_messages(self, messages: Sequence[NewGroupMessage | bytes]) -> None:
        """Publish group messages in one all-or-nothing request; bytes are taken as `NewGroupMessage(data)`."""
        if not messages:
            return
        inputs = [(m if isinstance(m, NewGroupMessage) else NewGroupMessage(m)).to_proto() for m in messages]
        request = mls_pb2.SendGroupMessagesRequest(messages=inputs)
        await self._call(MLS + "SendGroupMessages", request, empty_pb2.Empty)

    async def send_welcome_messages(self, welcomes: Sequence[NewWelcome | NewWelcomePointer]) -> None:
        if not welcomes:
            return
        request = mls_pb2.SendWelcomeMessagesRequest(messages=[w.to_proto() for w in welcomes])
        await self._call(MLS + "SendWelcomeMessages", request, empty_pb2.Empty)

    async def upload_key_package(self, key_package: bytes, *, is_inbox_id_credential: bool = True) -> None:
        """Upload (replace) this installation's key package, TLS-serialized."""
        request = mls_pb2.UploadKeyPackageRequest(
            key_package=mls_pb2.KeyPackageUpload(key_package_tls_serialized=key_package),
            is_inbox_id_credential=is_inbox_id_credential,
        )
        await self._call(MLS + "UploadKeyPackage", request, empty_pb2.Empty)

    async def fetch_key_packages(self, installation_keys: Sequence[bytes]) -> list[bytes | None]:
        """The current key package of each installation, in request order; None where the node has none."""
        if not installation_keys:
            return []
        request = mls_pb2.FetchKeyPackagesRequest(installation_keys=installation_keys)
        response = await self._call(MLS + "FetchKeyPackages", request, mls_pb2.FetchKeyPackagesResponse)
        _check_count("FetchKeyPackages", len(installation_keys), len(response.key_packages))
        return [kp.key_package_tls_serialized or None for kp in response.key_packages]

    async def batch_publish_commit_log(self, entries: Sequence[CommitLogPublish]) -> None:
        if not entries:
            return
        request = mls_pb2.BatchPublishCommitLogRequest(requests=[e.to_proto() for e in entries])
        await self._call(MLS + "BatchPublishCommitLog", request, empty_pb2.Empty)

    # --- MlsApi: reading ---

    async def query_group_messages(
        self, group_id: bytes, *, cursor: int = 0, limit: int = MAX_PAGE_SIZE, ascending: bool = True
    ) -> Page[GroupMessage]:
        """One page of a group's messages after (ascending) or before (descending) `cursor`."""
        request = mls_pb2.QueryGroupMessagesRequest(group_id=group_id, paging_info=_paging(cursor, limit, ascending))
        response = await self._call(MLS + "QueryGroupMessages", request, mls_pb2.QueryGroupMessagesResponse)
        items = _convert_all("QueryGroupMessages", response.messages, GroupMessage.from_proto)
        return _page("QueryGroupMessages", items, response.paging_info, cursor, ascending)

    async def query_welcome_messages(
        self, installation_key: bytes, *, cursor: int = 0, limit: int = MAX_PAGE_SIZE, ascending: bool = True
    ) -> Page[WelcomeMessage]:
        """One page of an installation's welcomes after (ascending) or before (descending) `cursor`."""
        request = mls_pb2.QueryWelcomeMessagesRequest(
            installation_key=installation_key, paging_info=_paging(cursor, limit, ascending)
        )
        response = await self._call(MLS + "QueryWelcomeMessages", request, mls_pb2.QueryWelcomeMessagesResponse)
        items = _convert_all("QueryWelcomeMessages", response.messages, WelcomeMessage.from_proto)
        return _page("QueryWelcomeMessages", items, response.paging_info, cursor, ascending)

    def iter_group_messages(
        self, group_id: bytes, *, cursor: int = 0, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[GroupMessage]:
        """Every message of a group after `cursor`, ascending, page by page."""
        return _iterate(lambda c: self.query_group_messages(group_id, cursor=c, limit=page_size), cursor)

    def iter_welcome_messages(
        self, installation_key: bytes, *, cursor: int = 0, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[WelcomeMessage]:
        """Every welcome of an installation after `cursor`, ascending, page by page."""
        return _iterate(lambda c: self.query_welcome_messages(installation_key, cursor=c, limit=page_size), cursor)

    async def get_newest_group_messages(
        self, group_ids: Sequence[bytes], *, include_content: bool = False
    ) -> dict[bytes, GroupMessage | None]:
        """The newest message of each group (None for a group with no messages)."""
        if not group_ids:
            return {}
        request = mls_pb2.GetNewestGroupMessageRequest(group_ids=group_ids, include_content=include_content)
        response = await self._call(MLS + "GetNewestGroupMessage", request, mls_pb2.GetNewestGroupMessageResponse)
        _check_count("GetNewestGroupMessage", len(group_ids), len(response.responses))
        newest: dict[bytes, GroupMessage | None] = {}
        for group_id, entry in zip(group_ids, response.responses, strict=True):
            message = entry.group_message if entry.HasField("group_message") else None
            newest[group_id] = (
                _convert_all("GetNewestGroupMessage", [message], GroupMessage.from_proto)[0] if message else None
            )
        return newest

    async def batch_query_commit_log(
        self, queries: Mapping[bytes, int], *, limit: int = MAX_PAGE_SIZE
    ) -> dict[bytes, CommitLogPage]:
        """For each group, the commit-log entries after its cursor (ascending)."""
        if not queries:
            return {}
        request = mls_pb2.BatchQueryCommitLogRequest(
            requests=[
                mls_pb2.QueryCommitLogRequest(group_id=group_id, paging_info=_paging(cursor, limit, True))
                for group_id, cursor in queries.items()
            ]
        )
        response = await self._call(MLS + "BatchQueryCommitLog", request, mls_pb2.BatchQueryCommitLogResponse)
        _check_count("BatchQueryCommitLog", len(queries), len(response.responses))
        pages: dict[bytes, CommitLogPage] = {}
        for (group_id, cursor), page in zip(queries.items(), response.responses, strict=True):
            entries = [CommitLogEntry.from_proto(e) for e in page.commit_log_entries]
            ids = [e.sequence_id for e in entries]
            next_cursor = _next_cursor("BatchQueryCommitLog", ids, page.paging_info.id_cursor, cursor, True)
            pages[group_id] = CommitLogPage(group_id, entries, next_cursor)
        return pages

    def open_group_stream(self, cursors: Mapping[bytes, int]) -> MessageStream[GroupMessage]:
        """A raw SubscribeGroupMessages stream: replay after each cursor, then live (no reconnects)."""
        Filter = mls_pb2.SubscribeGroupMessagesRequest.Filter
        request = mls_pb2.SubscribeGroupMessagesRequest(
            filters=[Filter(group_id=topic, id_cursor=cursor) for topic, cursor in cursors.items()]
        )
        return self._open_stream(MLS + "SubscribeGroupMessages", request, mls_pb2.GroupMessage, GroupMessage.from_proto)

    def open_welcome_stream(self, cursors: Mapping[bytes, int]) -> MessageStream[WelcomeMessage]:
        """A raw SubscribeWelcomeMessages stream for installation keys: replay after each cursor, then live."""
        Filter = mls_pb2.SubscribeWelcomeMessagesRequest.Filter
        request = mls_pb2.SubscribeWelcomeMessagesRequest(
            filters=[Filter(installation_key=topic, id_cursor=cursor) for topic, cursor in cursors.items()]
        )
        return self._open_stream(
            MLS + "SubscribeWelcomeMessages", request, mls_pb2.WelcomeMessage, WelcomeMessage.from_proto
        )

    def subscribe_group_messages(
        self, cursors: Mapping[bytes, int] | None = None, **options: Any
    ) -> Subscription[GroupMessage]:
        """A reconnecting subscription to group topics (group id -> last id seen); see `Subscription` for options."""
        return Subscription(self.open_group_stream, cursors, **options)

    def subscribe_welcome_messages(
        self, cursors: Mapping[bytes, int] | None = None, **options: Any
    ) -> Subscription[WelcomeMessage]:
        """A reconnecting subscription to welcome topics (installation key -> last id seen)."""
        return Subscription(self.open_welcome_stream, cursors, **options)

    # --- IdentityApi ---

    async def publish_identity_update(self, update: association_pb2.IdentityUpdate) -> None:
        request = identity_pb2.PublishIdentityUpdateRequest(identity_update=update)
        await self._call(IDENTITY + "PublishIdentityUpdate", request, identity_pb2.PublishIdentityUpdateResponse)

    async def get_identity_updates(self, inboxes: Mapping[str, int]) -> dict[str, list[IdentityUpdateLog]]:
        """For each inbox id, its log entries with sequence_id above the given one (0 = the whole log)."""
        if not inboxes:
            return {}
        Request = identity_pb2.GetIdentityUpdatesRequest.Request
        request = identity_pb2.GetIdentityUpdatesRequest(
            requests=[Request(inbox_id=inbox_id, sequence_id=seq) for inbox_id, seq in inboxes.items()]
        )
        response = await self._call(IDENTITY + "GetIdentityUpdates", request, identity_pb2.GetIdentityUpdatesResponse)
        _check_count("GetIdentityUpdates", len(inboxes), len(response.responses))
        logs: dict[str, list[IdentityUpdateLog]] = {inbox_id: [] for inbox_id in inboxes}
        for entry in response.responses:
            if entry.inbox_id not in logs:
                raise bad_response(
                    "GetIdentityUpdates", f"answer for an inbox that was not asked for: {entry.inbox_id}"
                )
            logs[entry.inbox_id].extend(IdentityUpdateLog.from_proto(u) for u in entry.updates)
        return logs

    async def get_inbox_ids(self, identifiers: Sequence[str], *, kind: int = ETHEREUM) -> dict[str, str | None]:
        """The inbox id each identifier (e.g. an Ethereum address) belongs to, or None; keyed as requested."""
        if not identifiers:
            return {}
        Request = identity_pb2.GetInboxIdsRequest.Request
        request = identity_pb2.GetInboxIdsRequest(
            requests=[
                Request(identifier=i, identifier_kind=cast(association_pb2.IdentifierKind, kind)) for i in identifiers
            ]
        )
        response = await self._call(IDENTITY + "GetInboxIds", request, identity_pb2.GetInboxIdsResponse)
        _check_count("GetInboxIds", len(identifiers), len(response.responses))
        return {
            identifier: (entry.inbox_id if entry.HasField("inbox_id") else None)
            for identifier, entry in zip(identifiers, response.responses, strict=True)
        }

    async def verify_smart_contract_wallet_signatures(
        self, signatures: Sequence[ScwSignature]
    ) -> list[ScwVerification]:
        if not signatures:
            return []
        request = identity_pb2.VerifySmartContractWalletSignaturesRequest(signatures=[s.to_proto() for s in signatures])
        response = await self._call(
            IDENTITY + "VerifySmartContractWalletSignatures",
            request,
            identity_pb2.VerifySmartContractWalletSignaturesResponse,
        )
        _check_count("VerifySmartContractWalletSignatures", len(signatures), len(response.responses))
        return [scw_verification_from_proto(r) for r in response.responses]


def _paging(cursor: int, limit: int, ascending: bool) -> mls_pb2.PagingInfo:
    if cursor < 0:
        raise ValueError(f"cursor must be >= 0, got {cursor}")
    if not 0 < limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be in 1..{MAX_PAGE_SIZE}, got {limit}")
    # Spell the direction out: node-go treats UNSPECIFIED as descending.
    return mls_pb2.PagingInfo(direction=ASCENDING if ascending else DESCENDING, limit=limit, id_cursor=cursor)


def _check_count(method: str, asked: int, answered: int) -> None:
    if asked != answered:
        raise bad_response(method, f"asked for {asked} results, got {answered}")


def _convert_all(method: str, protos: Sequence[ProtoT], convert: Callable[[ProtoT], ItemT]) -> list[ItemT]:
    try:
        return [convert(p) for p in protos]
    except ValueError as exc:
        raise bad_response(method, str(exc)) from exc


def _next_cursor(method: str, ids: list[int], reported: int, cursor: int, ascending: bool) -> int | None:
    """The node's next-page cursor, or None at the end; refuses pages that run backwards (they would loop)."""
    ordered = ids == sorted(ids) if ascending else ids == sorted(ids, reverse=True)
    after = all(i > cursor for i in ids) if ascending else cursor == 0 or all(i < cursor for i in ids)
    if not ordered or not after:
        raise bad_response(method, f"page ids {ids[:3]}… are not in order after cursor {cursor}")
    if reported == 0 or not ids:
        return None
    return reported


def _page(method: str, items: list[Any], paging: mls_pb2.PagingInfo, cursor: int, ascending: bool) -> Page[Any]:
    return Page(items, _next_cursor(method, [i.id for i in items], paging.id_cursor, cursor, ascending))


async def _iterate(fetch: Callable[[int], Awaitable[Page[ItemT]]], cursor: int) -> AsyncIterator[ItemT]:
    while True:
        page = await fetch(cursor)
        for item in page.items:
            yield item
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
