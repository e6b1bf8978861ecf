"""The xmtp.identity.api.v1.IdentityApi gRPC service: inbox logs and identifier → inbox lookups."""

from __future__ import annotations

from typing import Any

from xmtp_core.protos.identity.api.v1 import identity_pb2, identity_pb2_grpc
from xmtp_core.protos.identity.associations import association_pb2

from devnode.errors import InvalidInput
from devnode.identity_validation import check_update, normalize_identifier, normalize_kind
from devnode.mls_api import invalid_argument
from devnode.models import AcceptedUpdate, InboxSnapshot
from devnode.node import Node

_SCW_UNSUPPORTED = "devnode does not verify smart contract wallet signatures"


class IdentityApi(identity_pb2_grpc.IdentityApiServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    @invalid_argument
    async def PublishIdentityUpdate(
        self, request: identity_pb2.PublishIdentityUpdateRequest, context: Any
    ) -> identity_pb2.PublishIdentityUpdateResponse:
        if not request.HasField("identity_update"):
            raise InvalidInput("identity_update is missing")
        update = request.identity_update
        if not update.inbox_id:
            raise InvalidInput("identity_update.inbox_id is empty")

        def validate(snapshot: InboxSnapshot) -> AcceptedUpdate:
            return check_update(snapshot, update)

        await self.node.store.append_identity_update(update.inbox_id, update.SerializeToString(), validate)
        return identity_pb2.PublishIdentityUpdateResponse()

    @invalid_argument
    async def GetIdentityUpdates(
        self, request: identity_pb2.GetIdentityUpdatesRequest, context: Any
    ) -> identity_pb2.GetIdentityUpdatesResponse:
        wanted = [(r.inbox_id, r.sequence_id) for r in request.requests]
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
