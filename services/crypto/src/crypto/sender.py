"""`BusSender`: the runtime's envelopes go to SB_PUB for the publisher, and the call returns with its result.

The request is published with `Nats-Msg-Id` `intent:<agent>-<id>[-w]:<build>` (a republish of the same build is
a duplicate the stream drops), on the conversation's subject so a conversation's sends keep their order. The
result comes back on `sb.res.<agent>.<conv>`: one core-NATS subscription per sender (`sb.res.<agent>.*`, taken
before its first publish and kept) sees it as the stream stores it and hands it to the send waiting for that
intent and build (a subscription per send cost a SUB and an UNSUB per echo, each rebuilding nats-server's
subject cache). `accepted` returns; `permanent` raises `NodeRejected` (the intent ends in Error); `transient`
or no answer in time raises `NodeUnavailable`, so the intent stays Published and the runtime republishes it
after its next pull (the same build: a duplicate if the first copy got through). A republish the stream drops
as a duplicate returns at once: the publisher answers the first copy's sender only, and the intent stays
Published until its echo finishes it (a sync racing a send republished it, and waited 30 s for nothing). The
publish itself is repeated while SB_PUB has no leader (a NATS cluster electing one), within the result timeout;
a bus that stays away is `NodeUnavailable` too, never a NATS error the caller does not know (crypto's
stale-intent sweep finishes it)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from xmtp_core import telemetry
from xmtp_core.bus import subjects
from xmtp_core.bus.leader import while_no_leader
from xmtp_core.bus.schemas import GroupMessageOut, PublishRequest, PublishResult, SchemaError, WelcomeOut, dump, parse
from xmtp_core.bus.streams import PUB
from xmtp_core.node import NewGroupMessage, NewWelcome, NewWelcomePointer, NodeRejected, NodeUnavailable
from xmtp_core.runtime.core import Outgoing

RESULT_TIMEOUT_S = 30.0


class BusSender:
    def __init__(self, agent: str, nc: NATS, js: JetStreamContext, timeout_s: float = RESULT_TIMEOUT_S) -> None:
        self.agent = subjects.agent_token(agent)
        self.nc = nc
        self.js = js
        self.timeout_s = timeout_s
        self._waiting: dict[tuple[str, int], list[asyncio.Future[PublishResult]]] = {}
        self._subscription: Subscription | None = None
        self._subscribing = asyncio.Lock()

    async def _listen(self) -> None:
        """The sender's result subscription, taken once (nats-py takes it again after each reconnect)."""
        async with self._subscribing:
            if self._subscription is not None:
                return
            try:
                self._subscription = await self.nc.subscribe(subjects.results(self.agent), cb=self._on_result)
            except NatsError as exc:
                raise NodeUnavailable("publisher", f"no result subscription: {type(exc).__name__}") from None

    async def _on_result(self, msg: Msg) -> None:
        try:
            result = parse(PublishResult, msg.data)
        except SchemaError:
            return
        for answer in self._waiting.pop((result.intent_id, result.build), []):
            if not answer.done():
                answer.set_result(result)

    def _request(self, what: Outgoing, **fields: object) -> PublishRequest:
        suffix = "-w" if what.welcomes else ""
        return PublishRequest(
            agent=self.agent,
            conv=subjects.group_conv(what.group_id),
            intent_id=f"{self.agent}-{what.intent_id}{suffix}",
            build=what.build,
            **fields,  # type: ignore[arg-type]
        )

    async def send_group_messages(self, what: Outgoing, messages: Sequence[NewGroupMessage]) -> None:
        out = [GroupMessageOut(data=m.data, sender_hmac=m.sender_hmac, should_push=m.should_push) for m in messages]
        await self._send(self._request(what, kind="group_message", group_messages=out))

    async def send_welcome_messages(self, what: Outgoing, welcomes: Sequence[NewWelcome | NewWelcomePointer]) -> None:
        out = [_welcome_out(w) for w in welcomes]
        if out:
            await self._send(self._request(what, kind="welcome", welcomes=out))

    async def _send(self, request: PublishRequest) -> None:
        await self._listen()
        key = (request.intent_id, request.build)
        answer: asyncio.Future[PublishResult] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(answer)  # before the publish: its result may come at once
        try:
            if await self._publish(request):
                return
            try:
                async with asyncio.timeout(self.timeout_s):
                    result = await answer
            except TimeoutError:
                raise NodeUnavailable("publisher", "no publish result in time") from None
        finally:
            self._forget(key, answer)
        if result.status == "permanent":
            raise NodeRejected("publisher", result.error or "refused by the node")
        if result.status == "transient":
            raise NodeUnavailable("publisher", result.error or "node unavailable")

    def _forget(self, key: tuple[str, int], answer: asyncio.Future[PublishResult]) -> None:
        """A send that ended (answered, timed out, cancelled) waits no more: nothing is kept for it."""
        waiting = self._waiting.get(key)
        if waiting is not None and answer in waiting:
            waiting.remove(answer)
            if not waiting:
                del self._waiting[key]

    async def _publish(self, request: PublishRequest) -> bool:
        """Into SB_PUB; True when the stream dropped it as a duplicate of a copy stored before."""
        headers = {subjects.MSG_ID_HEADER: request.msg_id}
        subject, payload = subjects.publish(self.agent, request.conv), dump(request)
        try:
            with telemetry.producer_span(PUB.name, headers):
                ack = await while_no_leader(
                    lambda: self.js.publish(subject, payload, stream=PUB.name, headers=headers), within=self.timeout_s
                )
        except NatsError as exc:  # no leader for too long, or the connection is down
            raise NodeUnavailable("publisher", f"SB_PUB publish failed: {type(exc).__name__}") from None
        return bool(ack.duplicate)


def _welcome_out(w: NewWelcome | NewWelcomePointer) -> WelcomeOut:
    key = w.installation_key.hex()
    if isinstance(w, NewWelcomePointer):
        return WelcomeOut(
            installation_key=key,
            data=w.welcome_pointer,
            hpke_public_key=w.hpke_public_key,
            wrapper_algorithm=w.wrapper_algorithm,
            pointer=True,
        )
    return WelcomeOut(
        installation_key=key,
        data=w.data,
        hpke_public_key=w.hpke_public_key,
        wrapper_algorithm=w.wrapper_algorithm,
        welcome_metadata=w.welcome_metadata,
    )
