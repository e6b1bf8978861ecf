"""Hostile-size requests: payloads at XMTP's 1 MiB cap, bounded id lists, responses and streams."""

from __future__ import annotations

import grpc
import pytest
from devnode_testkit import private_message, send_request, welcome_v1
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
