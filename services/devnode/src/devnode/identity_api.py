"""The xmtp.identity.api.v1.IdentityApi gRPC service: inbox logs and identifier → inbox lookups."""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

from xmtp_core.identity import InvalidInboxIdError, require_inbox_id
from xmtp_core.protos.identity.api.v1 import identity_pb2, identity_pb2_grpc
from xmtp_core.protos.identity.associations import association_pb2

from devnode.errors import InvalidInput
from devnode.identity_validation import check_update, normalize_identifier, normalize_kind
from devnode.limits import MAX_IDS_PER_REQUEST, MAX_TOPIC_BYTES
from devnode.mls_api import invalid_argument
from devnode.models import AcceptedUpdate, InboxSnapshot
from devnode.node import Node

_SCW_UNSUPPORTED = "devnode does not verify smart contract wallet signatures"


def _inbox_id(value: str, what: str) -> str:
    # Checked before the value reaches a lock, a query or a message: it is the sender's text.
    try:
        return require_inbox_id(value, what)
    except InvalidInboxIdError as exc:
        raise InvalidInput(str(exc)) from exc


def _count(entries: Sized, what: str) -> None:
    if len(entries) > MAX_IDS_PER_REQUEST:
        raise InvalidInput(f"{what} has {len(entries)} entries; the limit is {MAX_IDS_PER_REQUEST}")


class IdentityApi(identity_pb2_grpc.IdentityApiServicer):
    """IdentityApi backed by `Node`: verified identity logs and identifier → inbox look-ups."""

    def __init__(self, node: Node) -> None:
        self.node = node

    @invalid_argument
    async def PublishIdentityUpdate(
        self, request: identity_pb2.PublishIdentityUpdateRequest, context: Any
    ) -> identity_pb2.PublishIdentityUpdateResponse:
        if not request.HasField("identity_update"):
            raise InvalidInput("identity_update is missing")
        update = request.identity_update
        inbox_id = _inbox_id(update.inbox_id, "identity_update.inbox_id")

        def validate(snapshot: InboxSnapshot) -> AcceptedUpdate:
            return check_update(snapshot, update)

        await self.node.store.append_identity_update(inbox_id, update.SerializeToString(), validate)
        return identity_pb2.PublishIdentityUpdateResponse()

    @invalid_argument
    async def GetIdentityUpdates(
        self, request: identity_pb2.GetIdentityUpdatesRequest, context: Any
    ) -> identity_pb2.GetIdentityUpdatesResponse:
        _count(request.requests, "requests")
        wanted = [
            (_inbox_id(r.inbox_id, f"requests[{i}].inbox_id"), r.sequence_id) for i, r in enumerate(request.requests)
        ]
        found = await self.node.store.identity_updates(wanted)
        Response = identity_pb2.GetIdentityUpdatesResponse.Response
        Log = identity_pb2.GetIdentityUpdatesResponse.IdentityUpdateLog
        return identity_pb2.GetIdentityUpdatesResponse(
            responses=[
                Response(
                    inbox_id=inbox_id,
                    updates=[
                        Log(
                            sequence_id=e.sequence_id,
                            server_timestamp_ns=e.server_timestamp_ns,
                            update=association_pb2.IdentityUpdate.FromString(e.update),
                        )
                        for e in found[inbox_id]
                        if e.sequence_id > sequence_id
                    ],
                )
                for inbox_id, sequence_id in wanted
            ]
        )

    @invalid_argument
    async def GetInboxIds(
        self, request: identity_pb2.GetInboxIdsRequest, context: Any
    ) -> identity_pb2.GetInboxIdsResponse:
        _count(request.requests, "requests")
        for i, r in enumerate(request.requests):
            if len(r.identifier) > MAX_TOPIC_BYTES:
                size = len(r.identifier)
                raise InvalidInput(f"requests[{i}].identifier is {size} characters; the limit is {MAX_TOPIC_BYTES}")
        keys = [
            (normalize_identifier(r.identifier, normalize_kind(r.identifier_kind)), normalize_kind(r.identifier_kind))
            for r in request.requests
        ]
        found = await self.node.store.inbox_ids(keys)
        Response = identity_pb2.GetInboxIdsResponse.Response
        responses = []
        for r, key in zip(request.requests, keys, strict=True):
            inbox_id = found.get(key)
            responses.append(
                Response(identifier=r.identifier, identifier_kind=r.identifier_kind, inbox_id=inbox_id)
                if inbox_id is not None
                else Response(identifier=r.identifier, identifier_kind=r.identifier_kind)
            )
        return identity_pb2.GetInboxIdsResponse(responses=responses)

    async def VerifySmartContractWalletSignatures(
        self, request: identity_pb2.VerifySmartContractWalletSignaturesRequest, context: Any
    ) -> identity_pb2.VerifySmartContractWalletSignaturesResponse:
        # No chain access here: every smart-contract-wallet signature is reported invalid, with a reason.
        Result = identity_pb2.VerifySmartContractWalletSignaturesResponse.ValidationResponse
        return identity_pb2.VerifySmartContractWalletSignaturesResponse(
            responses=[Result(is_valid=False, error=_SCW_UNSUPPORTED) for _ in request.signatures]
        )
