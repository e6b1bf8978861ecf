"""Context helpers and filters without a network: each helper's command (markdown reply, read receipt, reaction
schema, remote attachment encrypted and uploaded through the hook, every conversation.send_*), keyed by event
and step; the Agent SDK's filters (admins, codecs ignoring the version, one per content type)."""

from __future__ import annotations

from typing import Any

import pytest
from router import Agent
from router import filters as F
from xmtp_core.bus.schemas import AttachmentCommand, ContentCommand, ConversationInfo, ReactionCommand
from xmtp_core.content import Attachment, Markdown, ReadReceipt, RemoteAttachment, Reply, default_registry
from xmtp_core.content.codecs.coinbase import Action, Actions, Intent
from xmtp_core.content.codecs.text import TEXT, TextCodec
from xmtp_core.content.remote_attachment import EncryptedAttachment, decrypt_attachment
from xmtp_core.content.types import ContentTypeId

from .conftest import MakeCtx

REGISTRY = default_registry()


def _sent(ctx: Any) -> list[Any]:
    return list(ctx.conversation.transport.commands)


def _decoded(command: ContentCommand) -> Any:
    return REGISTRY.decode_bytes(command.encoded_content).value


async def test_markdown_reply_read_receipt_and_reaction_schema(make_ctx: MakeCtx) -> None:
    agent = Agent("t")
    ctx = make_ctx(agent, "hi", sender="inbox-s")
    await ctx.send_markdown_reply("**yes**")
    await ctx.send_read_receipt()
    await ctx.send_reaction(":+1:", "shortcode")
    reply, receipt, reaction = _sent(ctx)
    value = _decoded(reply)
    assert isinstance(value, Reply) and value.reference == ctx.message.id and value.reference_inbox_id == "inbox-s"
    assert REGISTRY.decode(value.content).value == Markdown("**yes**")
    assert _decoded(receipt) == ReadReceipt()
    assert isinstance(reaction, ReactionCommand) and reaction.schema_ == "shortcode"
    assert len({c.idempotency_key for c in (reply, receipt, reaction)}) == 3


async def test_remote_attachment_is_encrypted_uploaded_and_decryptable(make_ctx: MakeCtx) -> None:
    agent = Agent("t")
    ctx = make_ctx(agent, "hi")
    uploaded: list[EncryptedAttachment] = []

    async def upload(encrypted: EncryptedAttachment) -> str:
        uploaded.append(encrypted)
        return "https://files.example.com/1"

    attachment = Attachment("image/png", b"\x89PNG secret pixels", "cat.png")
    await ctx.send_remote_attachment(attachment, upload)
    (command,) = _sent(ctx)
    assert isinstance(command, AttachmentCommand) and command.url == "https://files.example.com/1"
    (encrypted,) = uploaded
    assert b"secret pixels" not in encrypted.ciphertext
    remote = RemoteAttachment(
        command.url, command.content_digest, command.secret, command.salt, command.nonce,
        content_length=command.content_length, filename=command.filename,
    )  # fmt: skip
    assert decrypt_attachment(encrypted.ciphertext, remote) == attachment
    assert command.content_length == len(encrypted.ciphertext) and command.filename == "cat.png"


async def test_conversation_send_helpers_carry_their_values(make_ctx: MakeCtx) -> None:
    agent = Agent("t")
    ctx = make_ctx(agent, "hi")
    conv = ctx.conversation
    actions = Actions("pick", "Pick one", (Action("a", "A"), Action("b", "B")))
    await conv.send_actions(actions, idempotency_key="k-1")
    await conv.send_intent(Intent("pick", "a"), idempotency_key="k-2")
    await conv.send_reply(ctx.message.id, "plain", idempotency_key="k-3")
    await conv.send_attachment(Attachment("text/plain", b"x", "x.txt"), idempotency_key="k-4")
    values = [_decoded(c) for c in _sent(ctx)]
    assert values[0] == actions and values[1] == Intent("pick", "a")
    assert values[2].content == TextCodec().encode("plain") and values[3].filename == "x.txt"
    assert [c.idempotency_key for c in _sent(ctx)] == ["k-1", "k-2", "k-3", "k-4"]
    assert "plain" not in repr(_sent(ctx)[2])


async def test_reply_content_and_text_reply_filter(make_ctx: MakeCtx) -> None:
    agent = Agent("t")
    text_reply = make_ctx(
        agent, Reply("ab" * 32, REGISTRY.encode("hey", content_type=TEXT)), content_type="xmtp.org/reply:1.0"
    )
    md_reply = make_ctx(agent, Reply("ab" * 32, REGISTRY.encode(Markdown("m"))), content_type="xmtp.org/reply:1.0")
    assert text_reply.reply_content() == "hey" and make_ctx(agent, "x").reply_content() is None
    assert await F.is_text_reply(text_reply) and not await F.is_text_reply(md_reply)
    assert await F.is_reply(md_reply) and not await F.is_text(md_reply)


TYPE_FILTERS = {
    "xmtp.org/text:1.0": F.is_text, "xmtp.org/markdown:1.0": F.is_markdown, "xmtp.org/reaction:2.0": F.is_reaction,
    "xmtp.org/reply:1.0": F.is_reply, "xmtp.org/readReceipt:1.0": F.is_read_receipt,
    "xmtp.org/remoteStaticAttachment:1.0": F.is_remote_attachment,
    "xmtp.org/multiRemoteStaticAttachment:1.0": F.is_multi_remote_attachment,
    "xmtp.org/attachment:1.0": F.is_attachment, "xmtp.org/transactionReference:1.0": F.is_transaction_reference,
    "xmtp.org/walletSendCalls:1.0": F.is_wallet_send_calls, "xmtp.org/group_updated:1.0": F.is_group_updated,
    "coinbase.com/actions:1.0": F.is_actions, "coinbase.com/intent:1.0": F.is_intent,
    "xmtp.org/leave_request:1.0": F.is_leave_request,
}  # fmt: skip


@pytest.mark.parametrize("content_type", sorted(TYPE_FILTERS))
async def test_each_content_type_filter_matches_only_its_type(make_ctx: MakeCtx, content_type: str) -> None:
    ctx = make_ctx(Agent("t"), object(), content_type=content_type)
    assert [name for name, f in TYPE_FILTERS.items() if await f(ctx)] == [content_type]


async def test_uses_codec_ignores_the_version(make_ctx: MakeCtx) -> None:
    from xmtp_core.content.codecs.reaction import ReactionV1Codec

    ctx = make_ctx(Agent("t"), object(), content_type="xmtp.org/reaction:2.0")
    assert await F.uses_codec(ReactionV1Codec)(ctx) and ctx.uses_codec(ReactionV1Codec())
    assert ctx.uses_codec(ContentTypeId("xmtp.org", "reaction", 1, 0)) and ctx.is_reaction()
    assert not await F.uses_codec("xmtp.org/text")(ctx) and not ctx.is_text()


async def test_admin_filters_read_the_group_admins(make_ctx: MakeCtx) -> None:
    agent = Agent("t")
    info = ConversationInfo(conversation_id="ef" * 16, kind="group", admins=["adm"], super_admins=["sup"])
    admin, boss, member = (make_ctx(agent, "x", sender=s, info=info) for s in ("adm", "sup", "mem"))
    assert [await F.is_group_admin(c) for c in (admin, boss, member)] == [True, False, False]
    assert [await F.is_group_super_admin(c) for c in (admin, boss, member)] == [False, True, False]
    dm = make_ctx(agent, "x", sender="adm", info=ConversationInfo(conversation_id="ef" * 16, kind="dm", admins=["adm"]))
    assert not await F.is_group_admin(dm)
    assert await F.from_self(make_ctx(agent, "x", own=True)) and not await F.from_self(member)
    assert await F.has_content(member) and not await F.has_content(make_ctx(agent, None))
    assert admin.is_group() and not admin.is_dm()


async def test_in_reply_to_is_the_stored_message_decoded(make_ctx: MakeCtx) -> None:
    from xmtp_core.bus.schemas import MessageEvent, OpResponse

    agent = Agent("t")
    original = MessageEvent(
        agent="t", event_id="message:x", message_id="ab" * 32, conversation_id="ef" * 16, sender_inbox_id="inbox-b",
        sender_installation="ee" * 32, sent_ns=5, content_type="xmtp.org/text:1.0",
        encoded_content=REGISTRY.encode("the question").to_bytes(),
    )  # fmt: skip
    reply = make_ctx(agent, Reply("ab" * 32, REGISTRY.encode("the answer")), content_type="xmtp.org/reply:1.0")
    transport = reply.conversation.transport
    transport.answers["message"] = OpResponse(op="message", ok=True, messages=[original])  # type: ignore[attr-defined]
    found = await reply.in_reply_to()
    assert found is not None and found.content == "the question" and found.sender_inbox_id == "inbox-b"
    assert transport.ops[-1] == {"op": "message", "conversation_id": "ef" * 16, "message_id": "ab" * 32}  # type: ignore[attr-defined]
    transport.answers["message"] = OpResponse(op="message", ok=True, messages=[])  # type: ignore[attr-defined]
    assert await reply.in_reply_to() is None
    assert await make_ctx(agent, "not a reply").in_reply_to() is None
    assert await agent.get_message("ef" * 16, "NOT-HEX") is None  # refused before any op
