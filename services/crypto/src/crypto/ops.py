"""Conversation operations as core-NATS request/reply on `sb.ops.<agent>` (`bus.client.serve_ops`: queue group
`crypto`, so one replica answers each): create a DM or group, members, metadata, admins, look-ups. Each runs on
the agent's runtime and settles (a commit is answered once merged); the answer is an `OpResponse`, never an
exception."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from nats.aio.client import Client as NATS
from nats.js.kv import KeyValue
from xmtp_core.bus import kv as bus_kv
from xmtp_core.bus import schemas, subjects
from xmtp_core.bus.client import serve_ops
from xmtp_core.bus.schemas import OpResponse
from xmtp_core.engine import AdminAction, EngineError
from xmtp_core.identity import verify_log
from xmtp_core.identity.errors import IdentityError
from xmtp_core.identity.identifiers import EthereumAddress, MemberKind
from xmtp_core.identity.inbox_id import is_inbox_id
from xmtp_core.node import NodeError
from xmtp_core.untrusted import clean_error
from xmtp_core.xmtp_mls.policies import MetadataField, admin_only_policy

from crypto.agents import Agent
from crypto.commands import CommandError
from crypto.events import conversation_info

log = logging.getLogger(__name__)


async def resolve(agent: Agent, conversation_id: str | None, inbox_id: str | None, address: str | None) -> bytes:
    """The conversation a command or op targets: a conversation by its id, or the DM with an inbox / address
    (created when there is none yet). An id is not looked up here: `Runtime.send` checks that the store holds
    it in its own read transaction (one transaction fewer per command), and `Commands` answers not_found."""
    runtime = agent.runtime
    if conversation_id is not None:
        return bytes.fromhex(conversation_id)
    if address is not None:
        found = (await runtime.node.get_inbox_ids([address.lower()])).get(address.lower())
        if found is None:
            raise CommandError("not_found", "that address has no inbox")
        inbox_id = found
    if inbox_id is None or not is_inbox_id(inbox_id):
        raise CommandError("invalid_command", "not an inbox id")
    return await runtime.create_dm(inbox_id)


class Ops:
    def __init__(self, nc: NATS, agents: Mapping[str, Agent], topics: KeyValue) -> None:
        self.nc = nc
        self.agents = agents
        self.topics = topics

    async def run(self) -> None:
        subs = [await serve_ops(self.nc, name, self._handler(agent)) for name, agent in self.agents.items()]
        try:
            await asyncio.Event().wait()
        finally:
            for sub in subs:
                await sub.unsubscribe()

    def _handler(self, agent: Agent) -> Callable[[Any], Awaitable[OpResponse]]:
        async def handle(req: Any) -> OpResponse:
            try:
                return await self._run(agent, req)
            except CommandError as exc:
                return OpResponse(op=req.op, ok=False, error=exc.reason, detail=exc.detail)
            except (EngineError, LookupError) as exc:
                return OpResponse(op=req.op, ok=False, error="refused", detail=clean_error(exc))
            except NodeError as exc:
                return OpResponse(op=req.op, ok=False, error="unavailable", detail=clean_error(exc))

        return handle

    async def _conversation(self, agent: Agent, op: str, group_id: bytes) -> OpResponse:
        info = await agent.runtime.conversation(group_id)
        return OpResponse(op=op, ok=True, conversation=conversation_info(info))

    async def _follow(self, agent: Agent, group_id: bytes) -> None:
        await bus_kv.put_topic(self.topics, agent.name, subjects.group_conv(group_id))

    async def _run(self, agent: Agent, req: Any) -> OpResponse:
        runtime = agent.runtime
        if isinstance(req, schemas.CreateDm):
            group_id = await resolve(agent, None, req.to_inbox_id, req.to_address)
            await self._follow(agent, group_id)
            return await self._conversation(agent, req.op, group_id)
        if isinstance(req, schemas.CreateGroup):
            members = list(req.members)
            for address in req.member_addresses:
                found = (await runtime.node.get_inbox_ids([address.lower()])).get(address.lower())
                if found is None:
                    raise CommandError("not_found", "an address has no inbox")
                members.append(found)
            policy = admin_only_policy() if req.permissions == "admins_only" else None
            group_id = await runtime.create_group(members, name=req.name, description=req.description, policy=policy)
            await self._follow(agent, group_id)
            if req.image_url:
                await runtime.update_image_url(group_id, req.image_url)
            return await self._conversation(agent, req.op, group_id)
        conversation_id = getattr(req, "conversation_id", None)
        group_id = bytes.fromhex(conversation_id) if conversation_id else b""
        if isinstance(req, schemas.AddMembers):
            await runtime.add_members(group_id, req.inbox_ids)
        elif isinstance(req, schemas.RemoveMembers):
            await runtime.remove_members(group_id, req.inbox_ids)
        elif isinstance(req, schemas.UpdateMetadata):
            fields = {
                MetadataField.GROUP_NAME: req.name,
                MetadataField.DESCRIPTION: req.description,
                MetadataField.GROUP_IMAGE_URL_SQUARE: req.image_url,
            }
            await runtime.update_metadata(group_id, {k: v for k, v in fields.items() if v is not None})
        elif isinstance(req, schemas.SetAdmin):
            action = _admin_action(req.admin, req.super_admin)
            await runtime.update_admins(group_id, action, req.inbox_id)
        elif isinstance(req, schemas.LookupInbox):
            found = (await runtime.node.get_inbox_ids([req.address.lower()])).get(req.address.lower())
            return OpResponse(op=req.op, ok=True, inbox_id=found)
        elif isinstance(req, schemas.GetMessage):
            stored = await _message(agent, group_id, bytes.fromhex(req.message_id))
            return OpResponse(op=req.op, ok=True, messages=[stored] if stored else [])
        elif isinstance(req, schemas.LookupAddresses):
            return OpResponse(op=req.op, ok=True, addresses=await _addresses(agent, req.inbox_id))
        elif isinstance(req, schemas.ListConversations):
            convs = (await runtime.conversations())[: req.limit]
            infos = [conversation_info(await runtime.conversation(c.group_id)) for c in convs]
            return OpResponse(op=req.op, ok=True, conversations=infos)
        elif isinstance(req, schemas.Members):
            info = await runtime.conversation(group_id)
            admins, supers = set(info.admins), set(info.super_admins)
            listed = [
                schemas.Member(inbox_id=i, admin=i in admins, super_admin=i in supers) for i in sorted(info.members)
            ]
            return OpResponse(op=req.op, ok=True, members=listed)
        elif not isinstance(req, schemas.GetConversation):
            return OpResponse(op=req.op, ok=False, error="unsupported", detail=f"{req.op} is not supported yet")
        return await self._conversation(agent, req.op, group_id)


async def _message(agent: Agent, group_id: bytes, message_id: bytes) -> schemas.MessageEvent | None:
    """A stored message of this conversation (another conversation's id finds nothing)."""
    store = agent.runtime.store
    async with store.transaction() as s:
        found = await store.messages.get(s, message_id)
    if found is None or found.group_id != group_id:
        return None
    return schemas.MessageEvent(
        agent=agent.name, event_id=f"message:{found.id.hex()}", message_id=found.id.hex(),
        conversation_id=group_id.hex(), sender_inbox_id=found.sender_inbox_id,
        sender_installation=found.sender_installation_key.hex(), sent_ns=found.sent_ns,
        content_type=found.content_type, encoded_content=found.content,
        is_own=found.sender_inbox_id == agent.runtime.keys.inbox_id,
    )  # fmt: skip


async def _addresses(agent: Agent, inbox_id: str) -> list[str]:
    """The Ethereum addresses linked to an inbox (its members, oldest first, as libxmtp lists them), from its
    identity log replayed and verified here: the node's word is not taken."""
    if not is_inbox_id(inbox_id):
        raise CommandError("invalid_command", "not an inbox id")
    logs = (await agent.runtime.node.get_identity_updates({inbox_id: 0})).get(inbox_id, [])
    if not logs:
        return []
    try:
        state = await verify_log([e.update for e in sorted(logs, key=lambda e: e.sequence_id)])
    except IdentityError as exc:
        raise CommandError("refused", clean_error(exc)) from None
    members = state.members_by_kind(MemberKind.ETHEREUM)
    return [m.identifier.address for m in members if isinstance(m.identifier, EthereumAddress)][:64]


def _admin_action(add: bool, super_admin: bool) -> AdminAction:
    if super_admin:
        return AdminAction.ADD_SUPER_ADMIN if add else AdminAction.REMOVE_SUPER_ADMIN
    return AdminAction.ADD_ADMIN if add else AdminAction.REMOVE_ADMIN
