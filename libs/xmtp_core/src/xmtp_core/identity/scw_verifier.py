"""A `SmartContractWalletVerifier` backed by a node's `IdentityApi.VerifySmartContractWalletSignatures`.

The node checks ERC-1271/6492 signatures on chain; clients (and tests with a fake stub) inject this into
`verify_log` / `apply_update`. Only the stub's one method is used, so any object with that coroutine fits.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

from xmtp_core.identity.signatures import ScwVerification
from xmtp_core.protos.identity.api.v1 import identity_pb2


class VerifySmartContractWalletSignaturesCall(Protocol):
    """The slice of `identity_pb2_grpc.IdentityApiStub` (grpc.aio) this verifier needs."""

    def VerifySmartContractWalletSignatures(
        self, request: identity_pb2.VerifySmartContractWalletSignaturesRequest, /
    ) -> Awaitable[identity_pb2.VerifySmartContractWalletSignaturesResponse]:
        """The IdentityApi RPC (a gRPC stub method)."""


class IdentityApiScwVerifier:
    """Asks the node whether a smart-contract wallet signed a 32-byte hash (one signature per call)."""

    def __init__(self, stub: VerifySmartContractWalletSignaturesCall) -> None:
        self._stub = stub

    async def __call__(
        self, account_id: str, message_hash: bytes, signature: bytes, block_number: int | None
    ) -> ScwVerification:
        request = identity_pb2.VerifySmartContractWalletSignaturesRequest(
            signatures=[
                identity_pb2.VerifySmartContractWalletSignatureRequestSignature(
                    account_id=account_id, block_number=block_number, signature=signature, hash=message_hash
                )
            ]
        )
        response = await self._stub.VerifySmartContractWalletSignatures(request)
        if len(response.responses) != 1:
            return ScwVerification(False, None, f"node answered {len(response.responses)} results for 1 signature")
        answer = response.responses[0]
        return ScwVerification(
            answer.is_valid,
            answer.block_number if answer.HasField("block_number") else None,
            answer.error if answer.HasField("error") else None,
        )
