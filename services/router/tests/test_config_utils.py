"""The Agent SDK's env names (wallet key checked as AgentError 1000, db key normalised to 0x, the seven networks,
unknown ones ignored, debug levels with an invalid one falling back to warn, no key in a repr); the agent's
conversation operations by address and on a group; utilities: test URL, ERC-20 and native transfer calls
(calldata checked against the ABI encoding), balance/decimals through an RPC with hostile answers refused, a
remote attachment downloaded and checked."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from router import Agent
from router.config import ENVS, AgentConfig, ConfigError, parse_log_level
from router.transport import AgentError
from router.utils import (
    UtilityError,
    create_erc20_transfer_calls,
    create_native_transfer_calls,
    download_remote_attachment,
    get_erc20_balance,
    get_erc20_decimals,
    get_test_url,
)
from xmtp_core.bus.schemas import ConversationInfo, Member, OpResponse
from xmtp_core.content import Attachment, RemoteAttachment, default_registry
from xmtp_core.content.remote_attachment import encrypt_attachment

from .conftest import RecordingTransport

KEY = "0x" + "11" * 32
ADDR = "0x19e7e376e7c213b7e7e7e46cc70a5dd086daff2a"  # the address of private key 0x11…11


def test_env_names_as_the_agent_sdk_reads_them(caplog: pytest.LogCaptureFixture) -> None:
    config = AgentConfig.from_env(
        {"XMTP_WALLET_KEY": KEY, "XMTP_DB_ENCRYPTION_KEY": "ab" * 32, "XMTP_ENV": "production",
         "XMTP_GATEWAY_HOST": "gw.example", "XMTP_DB_DIRECTORY": "/data", "XMTP_FORCE_DEBUG_LEVEL": "DEBUG"}
    )  # fmt: skip
    assert config.address == ADDR and config.db_encryption_key == "0x" + "ab" * 32
    assert (config.env, config.gateway_host, config.db_directory) == ("production", "gw.example", "/data")
    assert config.log_level == logging.DEBUG and "11" * 8 not in repr(config) and "ab" * 8 not in repr(config)
    assert len(ENVS) == 7 and all(AgentConfig.from_env({"XMTP_ENV": e}).env == e for e in ENVS)
    assert AgentConfig.from_env({"XMTP_ENV": "moon"}).env is None
    with pytest.raises(ConfigError) as bad:
        AgentConfig.from_env({"XMTP_WALLET_KEY": "11" * 32})  # no 0x
    assert bad.value.code == 1000
    with pytest.raises(ConfigError):
        AgentConfig.from_env({"XMTP_DB_ENCRYPTION_KEY": "zz"})
    with caplog.at_level(logging.WARNING, logger="router.config"):
        assert parse_log_level("loud\x1b[31m") == logging.WARNING
    assert "\x1b" not in caplog.text and "loud" in caplog.text
    assert parse_log_level("Trace") < logging.DEBUG and parse_log_level(None) == logging.WARNING


def test_create_from_env_sets_the_address(make_ctx: Any) -> None:
    agent = Agent.create_from_env("t", {"XMTP_WALLET_KEY": KEY})
    assert agent.address == ADDR and agent.name == "t"
    assert make_ctx(agent, "hi").get_client_address() == ADDR


async def test_conversations_by_address_and_group_operations() -> None:
    agent, transport = Agent("t"), RecordingTransport()
    agent.transport = transport
    group_info = ConversationInfo(conversation_id="ef" * 16, kind="group", members=["me", "bob"])
    transport.answers["create_group"] = OpResponse(op="create_group", ok=True, conversation=group_info)
    transport.answers["lookup_inbox"] = OpResponse(op="lookup_inbox", ok=True, inbox_id="inbox-bob")
    for op in ("add_members", "remove_members", "update_metadata", "set_admin"):
        transport.answers[op] = OpResponse(op=op, ok=True, conversation=group_info.model_copy(update={"name": op}))
    group = await agent.create_group_with_addresses([ADDR], name="g")
    assert transport.ops[-1] == {"op": "create_group", "member_addresses": [ADDR], "name": "g", "description": ""}
    await agent.add_members_with_addresses(group, [ADDR])
    assert transport.ops[-2:] == [
        {"op": "lookup_inbox", "address": ADDR},
        {"op": "add_members", "inbox_ids": ["inbox-bob"], "conversation_id": group.id},
    ]
    assert group.name == "add_members"  # the conversation as crypto answered after the change
    await group.update_name("renamed")
    await group.add_admin("inbox-bob")
    await group.remove_members(["inbox-bob"])
    assert [o["op"] for o in transport.ops[-3:]] == ["update_metadata", "set_admin", "remove_members"]
    transport.answers["members"] = OpResponse(op="members", ok=True, members=[Member(inbox_id="me", admin=True)])
    assert [m.inbox_id for m in await group.list_members()] == ["me"]
    transport.answers["lookup_inbox"] = OpResponse(op="lookup_inbox", ok=True, inbox_id=None)
    with pytest.raises(AgentError):
        await agent.add_members_with_addresses(group, [ADDR])
    transport.answers["conversation"] = OpResponse(op="conversation", ok=True, conversation=group_info)
    ctx = await agent.get_conversation_context(group.id, key="order-1")
    again = await agent.get_conversation_context(group.id, key="order-1")
    assert ctx.is_group() and ctx.idempotency_key() == again.idempotency_key()


def test_test_url_and_transfer_calls() -> None:
    assert get_test_url(ADDR.upper().replace("0X", "0x"), "production") == f"http://xmtp.chat/production/dm/{ADDR}"
    token, to = "0x" + "ab" * 20, "0x" + "cd" * 20
    calls = create_erc20_transfer_calls(chain=8453, token_address=token, from_address=ADDR, to=to, amount=10**6)
    (call,) = calls.calls
    assert calls.chain_id == "0x2105" and calls.version == "1.0" and call.to == token and call.value == "0x0"
    assert call.data == "0xa9059cbb" + "00" * 12 + "cd" * 20 + format(10**6, "064x")
    assert call.metadata is not None and call.metadata.transaction_type == "transfer"
    native = create_native_transfer_calls(chain="0x1", from_address=ADDR, to=to, amount=5)
    assert native.calls[0].value == "0x5" and native.calls[0].to == to and native.chain_id == "0x1"
    encoded = default_registry().encode(calls)  # a valid wallet-send-calls for libxmtp
    assert default_registry().decode(encoded).value == calls
    for bad in ({"to": "0x12"}, {"amount": -1}, {"amount": 2**256}, {"chain": 0}):
        with pytest.raises(UtilityError):
            create_erc20_transfer_calls(**{"chain": 1, "token_address": token, "from_address": ADDR, "to": to,
                                           "amount": 1, **bad})  # fmt: skip


async def test_balance_and_decimals_through_an_rpc_that_may_lie() -> None:
    asked: list[Any] = []

    def rpc_answering(result: Any) -> Any:
        async def rpc(method: str, params: list[Any]) -> Any:
            asked.append((method, params))
            return result

        return rpc

    token = "0x" + "ab" * 20
    assert await get_erc20_balance(rpc_answering(hex(1234)), token, ADDR) == 1234
    assert asked[0][1][0]["data"] == "0x70a08231" + "00" * 12 + ADDR[2:]
    assert await get_erc20_decimals(rpc_answering("0x6"), token) == 6
    for lie in ("0x" + "f" * 65, {"x": 1}, "12", None, "0x" + "1" * 10):
        with pytest.raises(UtilityError):
            await get_erc20_decimals(rpc_answering(lie), token)


async def test_a_remote_attachment_is_downloaded_and_checked() -> None:
    attachment = Attachment("text/plain", b"hello", "h.txt")
    enc = encrypt_attachment(attachment)
    remote = RemoteAttachment(
        "https://x/1", enc.content_digest, enc.secret, enc.salt, enc.nonce, content_length=len(enc.ciphertext)
    )

    async def fetch(url: str) -> bytes:
        return enc.ciphertext

    async def tampered(url: str) -> bytes:
        return bytes([enc.ciphertext[0] ^ 1]) + enc.ciphertext[1:]

    async def short(url: str) -> bytes:
        return enc.ciphertext[:-1]

    assert await download_remote_attachment(remote, fetch) == attachment
    with pytest.raises(Exception) as caught:
        await download_remote_attachment(remote, tampered)
    assert "digest" in str(caught.value).lower() or "decrypt" in str(caught.value).lower()
    with pytest.raises(UtilityError):
        await download_remote_attachment(remote, short)


async def test_get_sender_address_is_the_first_linked_address(make_ctx: Any) -> None:
    agent = Agent("t")
    ctx = make_ctx(agent, "hi", sender="inbox-s")
    transport = ctx.conversation.transport
    two = [ADDR, "0x" + "00" * 20]
    transport.answers["lookup_addresses"] = OpResponse(op="lookup_addresses", ok=True, addresses=two)
    assert await ctx.get_sender_address() == ADDR
    assert transport.ops[-1] == {"op": "lookup_addresses", "inbox_id": "inbox-s"}
    transport.answers["lookup_addresses"] = OpResponse(op="lookup_addresses", ok=True, addresses=[])
    assert await ctx.get_sender_address() is None


async def test_the_name_resolver_passes_addresses_caches_and_refuses_junk() -> None:
    from router import utils

    asked: list[str] = []

    async def lookup(name: str) -> str | None:
        asked.append(name)
        return {"alice.eth": ADDR.upper().replace("0X", "0x"), "bad.eth": "not an address"}.get(name)

    resolve = utils.create_name_resolver(lookup)
    assert await resolve(ADDR) == ADDR and asked == []
    assert await resolve("Alice.ETH") == ADDR and await resolve("alice.eth") == ADDR
    assert asked == ["alice.eth"]  # cached
    assert await resolve("bad.eth") is None and await resolve("nobody.eth") is None
    with pytest.raises(UtilityError):
        await resolve("../../etc/passwd")
    for n in range(utils.NAME_CACHE + 5):
        await resolve(f"n{n}.eth")
    await resolve("alice.eth")
    assert asked.count("alice.eth") == 2  # fell out of the bounded cache


async def test_names_go_through_the_agents_resolver() -> None:
    from router.utils import create_name_resolver

    agent, transport = Agent("t"), RecordingTransport()
    agent.transport = transport
    with pytest.raises(AgentError) as no_resolver:
        await agent.create_dm_with_address("alice.eth")
    assert no_resolver.value.reason == "name_not_resolved" and transport.ops == []

    async def lookup(name: str) -> str | None:
        return ADDR if name == "alice.eth" else None

    agent.name_resolver = create_name_resolver(lookup)
    await agent.create_dm_with_address("alice.eth")
    await agent.create_group_with_addresses(["alice.eth", ADDR])
    assert transport.ops[0]["to_address"] == ADDR and transport.ops[1]["member_addresses"] == [ADDR, ADDR]
    with pytest.raises(AgentError):
        await agent.create_dm_with_address("bob.eth")
