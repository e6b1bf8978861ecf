"""How agent code acts: commands on SB_OUT (sends) and operations on `sb.ops.<agent>` (conversations, members).

A command is published to JetStream with `Nats-Msg-Id` `out:<agent>:<key>` and its result comes back on this
process's inbox (`Sb-Reply-To`); a command JetStream drops as a duplicate (the same key, sent before) is answered
from KV `sb_command_results`. Keys come from the caller: a handler's sends are keyed by the inbound event and
the send's position in the handler, so a handler re-run after a crash sends nothing twice."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from pydantic import BaseModel
from xmtp_core.bus import kv as bus_kv
from xmtp_core.bus import subjects
from xmtp_core.bus.schemas import CommandResult, OpRequest, OpResponse, dump, parse
from xmtp_core.bus.streams import OUT

COMMAND_TIMEOUT_S = 60.0
OP_TIMEOUT_S = 120.0


class AgentError(Exception):
    """A send or operation the pipeline refused or could not do; `reason` is its error code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Transport(Protocol):
    async def command(self, command: BaseModel) -> CommandResult: ...

    async def op(self, request: dict[str, Any]) -> OpResponse: ...


class NatsTransport:
    def __init__(self, agent: str, nc: NATS, js: JetStreamContext) -> None:
        self.agent = subjects.agent_token(agent)
        self.nc = nc
        self.js = js

    async def command(self, command: BaseModel) -> CommandResult:
        key: str = command.idempotency_key  # type: ignore[attr-defined]  # every command model has one
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox, max_msgs=1)
        try:
            headers = {
                subjects.MSG_ID_HEADER: subjects.outbound_msg_id(self.agent, key),
                subjects.REPLY_TO_HEADER: inbox,
            }
            ack = await self.js.publish(subjects.outbound(self.agent), dump(command), stream=OUT.name, headers=headers)
            if ack.duplicate:
                return await self._stored_result(key)
            msg = await sub.next_msg(timeout=COMMAND_TIMEOUT_S)
        finally:
            await sub.unsubscribe()
        result: CommandResult = parse(CommandResult, msg.data)
        return result

    async def _stored_result(self, key: str) -> CommandResult:
        """The result of a command sent before (its copy was dropped as a duplicate)."""
        kv = await self.js.key_value(subjects.KV_COMMAND_RESULTS)
        for _ in range(int(COMMAND_TIMEOUT_S * 10)):
            try:
                entry = await kv.get(bus_kv.command_result_key(self.agent, key))
            except KeyNotFoundError:
                await asyncio.sleep(0.1)  # the first copy is still being carried out
                continue
            if entry.value is not None:
                result: CommandResult = parse(CommandResult, entry.value)
                return result
        raise AgentError("timeout", "no result for a command sent before")

    async def op(self, request: dict[str, Any]) -> OpResponse:
        body = parse(OpRequest, json.dumps({"v": 1, "agent": self.agent, **request}))
        reply = await self.nc.request(subjects.ops(self.agent), dump(body), timeout=OP_TIMEOUT_S)
        response: OpResponse = parse(OpResponse, reply.data)
        if not response.ok:
            raise AgentError(response.error or "failed", response.detail)
        return response
