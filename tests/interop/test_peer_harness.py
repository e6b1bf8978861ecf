"""The libxmtp peer itself: the pinned SDK loads, and libxmtp error strings reach Python verbatim."""

from __future__ import annotations

import socket

import pytest
from peer import LibxmtpPeer, PeerError

pytestmark = pytest.mark.interop


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_peer_runs_the_pinned_libxmtp(peer: LibxmtpPeer) -> None:
    info = await peer.request("ping")
    assert info["sdkVersion"] == "5.5.0"
    assert info["bindingsVersion"] == "1.9.1"


async def test_create_against_a_closed_port_reports_the_libxmtp_error(peer: LibxmtpPeer) -> None:
    with pytest.raises(PeerError) as caught:
        await peer.create("nobody", f"http://127.0.0.1:{_closed_port()}")
    # Client.create's first call is the inbox lookup; libxmtp names the endpoint and the transport failure.
    assert "IdentityApi/GetInboxIds" in caught.value.error
    assert "tcp connect error" in caught.value.error


async def test_unknown_client_and_op_are_clear_errors(peer: LibxmtpPeer) -> None:
    with pytest.raises(PeerError, match='no client named "ghost"'):
        await peer.sync("ghost")
    with pytest.raises(PeerError, match='unknown op "teleport"'):
        await peer.request("teleport")
