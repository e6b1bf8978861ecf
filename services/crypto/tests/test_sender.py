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


async def test_concurrent_sends_share_one_result_subscription_and_each_gets_its_own_answer(
    nc: Client, js: JetStreamContext
) -> None:
    """A stand-in publisher answers every request on SB_PUB (the second conversation's refused); 20 sends over two
    conversations at once each end with their own result, and the sender held one result subscription through
    them all (it used to SUB and UNSUB per send)."""
    from nats.aio.msg import Msg
    from xmtp_core.bus import subjects
    from xmtp_core.bus.schemas import PublishRequest, PublishResult, dump, parse
    from xmtp_core.node import NodeRejected

    refused_conv = subjects.group_conv(b"\x02" * 16)

    async def publisher(msg: Msg) -> None:
        request = parse(PublishRequest, msg.data)
        status = "permanent" if request.conv == refused_conv else "accepted"
        result = PublishResult(
            agent=request.agent, conv=request.conv, intent_id=request.intent_id, build=request.build, status=status
        )
        await nc.publish(subjects.result(request.agent, request.conv), dump(result))

    stand_in = await nc.subscribe(f"{subjects.PREFIX}.pub.echo.*", cb=publisher)
    sender = BusSender("echo", nc, js, timeout_s=5.0)
    message = [NewGroupMessage(b"\x00\x01envelope", b"hmac", True)]
    subscriptions_before = len(nc._subs)

    async def send(n: int) -> str:
        group = b"\x02" * 16 if n % 2 else b"\x01" * 16
        try:
            await sender.send_group_messages(Outgoing(100 + n, 1, group), message)
        except NodeRejected:
            return "refused"
        return "accepted"

    import asyncio

    outcomes = await asyncio.gather(*(send(n) for n in range(20)))
    assert outcomes == ["refused" if n % 2 else "accepted" for n in range(20)]
    assert len(nc._subs) == subscriptions_before + 1
    assert sender._waiting == {}  # nothing kept for a send that ended
    await stand_in.unsubscribe()
