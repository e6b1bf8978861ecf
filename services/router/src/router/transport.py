"""How agent code acts: commands on SB_OUT (sends) and operations on `sb.ops.<agent>` (conversations, members).

A command is published to JetStream with `Nats-Msg-Id` `out:<agent>:<key>` and its result comes back on this
process's inbox (`Sb-Reply-To`); a command JetStream drops as a duplicate (the same key, sent before) is answered
from KV `sb_command_results`. Keys come from the caller: a handler's sends are keyed by the inbound message's
id (an event's id for other events) and the send's position in the handler, so a handler re-run after a crash
sends nothing twice."""

from __future__ import annotations

import json
from typing import Any, Protocol

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from pydantic import BaseModel
from xmtp_core.bus import subjects
from xmtp_core.bus.client import request_op, send_command
from xmtp_core.bus.schemas import CommandResult, OpRequest, OpResponse, parse

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
        return await send_command(self.nc, command, wait_s=COMMAND_TIMEOUT_S)

    async def op(self, request: dict[str, Any]) -> OpResponse:
        body = parse(OpRequest, json.dumps({"v": 1, "agent": self.agent, **request}))
        response = await request_op(self.nc, body, wait_s=OP_TIMEOUT_S)
        if not response.ok:
            raise AgentError(response.error or "failed", response.detail)
        return response
