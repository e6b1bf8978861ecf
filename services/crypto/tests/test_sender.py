"""`BusSender` on a real JetStream: a republish the stream drops as a duplicate does not wait for a result that
only the first copy's sender gets (a sync racing a send held a Welcome's partition 30 s for each join)."""

from __future__ import annotations

import pytest
from crypto.sender import BusSender
from nats.aio.client import Client
from nats.js import JetStreamContext
from xmtp_core.node import NewGroupMessage, NodeUnavailable
from xmtp_core.runtime.core import Outgoing


async def test_a_duplicate_republish_returns_without_waiting_for_a_result(nc: Client, js: JetStreamContext) -> None:
    sender = BusSender("echo", nc, js, timeout_s=1.0)
    what = Outgoing(7, 1, bytes(16))
    message = [NewGroupMessage(b"\x00\x01envelope", b"hmac", True)]
    with pytest.raises(NodeUnavailable, match="no publish result in time"):  # no publisher runs: no result
        await sender.send_group_messages(what, message)
    # The same build again is dropped by the stream: it returns (waiting would raise, as above).
    await sender.send_group_messages(what, message)
    with pytest.raises(NodeUnavailable):  # a new build is a new request, waited for
        await sender.send_group_messages(Outgoing(7, 2, bytes(16)), message)
