"""ActionWizard: `/<id>` starts it, select steps send an Actions message `<wizard>:<step>` and take an Intent (or
an action's id or label as text), text steps take text, `/cancel` ends it through on_cancel, answers reach
on_complete; `dm=True` moves a flow asked for in a group to a DM; an event handled twice (at-least-once) sends
the same keys and counts no answer twice; sessions in Postgres survive a new wizard and store (a router
restart), are sealed (no answer in clear in the table) and a row moved to another user does not open."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from router import Agent, MessageContext
from router.context import Message
from router.sessions import MemorySessions, PostgresSessions, Session, SessionError, SessionStore
from router.wizard import ActionWizard
from xmtp_core.bus.schemas import ContentCommand, ConversationInfo, TextCommand
from xmtp_core.content import default_registry
from xmtp_core.content.codecs.coinbase import Actions, Intent

from .conftest import MakeCtx, RecordingTransport

REGISTRY = default_registry()
GROUP = ConversationInfo(conversation_id="ab" * 16, kind="group")
DM = ConversationInfo(conversation_id="cd" * 16, kind="dm")  # what RecordingTransport's create_dm answers


def _wizard(store: SessionStore, done: list[Any], *, dm: bool = False) -> ActionWizard:
    wizard = ActionWizard("signup", dm=dm, sessions=store)
    wizard.select("plan", "Pick a plan", [("free", "Free"), ("pro", "Pro")])
    wizard.text("email", "Your email?")

    @wizard.on_complete
    async def complete(answers: dict[str, str], ctx: MessageContext) -> None:
        done.append(answers)
        await ctx.send_text("thanks")

    @wizard.on_cancel
    async def cancelled(ctx: MessageContext) -> None:
        done.append("cancelled")

    return wizard


def _agent(wizard: ActionWizard, transport: RecordingTransport) -> Agent:
    agent = Agent("t")
    agent.transport = transport
    agent.use(wizard.middleware())
    return agent


class Talk:
    """Messages from one user, each a new event, in one conversation; the commands the agent sent."""

    def __init__(self, agent: Agent, make_ctx: MakeCtx, info: ConversationInfo) -> None:
        self.agent, self.make_ctx, self.info, self.n = agent, make_ctx, info, 0

    async def say(self, content: Any, *, event_id: str | None = None, info: ConversationInfo | None = None) -> None:
        self.n += 1
        content_type = "coinbase.com/intent:1.0" if isinstance(content, Intent) else "xmtp.org/text:1.0"
        ctx = self.make_ctx(
            self.agent, content, content_type=content_type, event_id=event_id or f"ev-{self.n}", sender="user",
            info=info or self.info,
        )  # fmt: skip
        await self.agent.dispatch_message(ctx)


def _shown(command: Any) -> Any:
    if isinstance(command, TextCommand):
        return command.text
    assert isinstance(command, ContentCommand)
    return REGISTRY.decode_bytes(command.encoded_content).value


async def test_a_flow_of_select_and_text_steps_completes(make_ctx: MakeCtx) -> None:
    done: list[Any] = []
    transport = RecordingTransport()
    agent = _agent(_wizard(MemorySessions(), done), transport)
    talk = Talk(agent, make_ctx, DM)
    await talk.say("/SignUp")
    actions = _shown(transport.commands[-1])
    assert isinstance(actions, Actions) and actions.id == "signup:plan"
    assert [a.id for a in actions.actions] == ["free", "pro", "cancel"]
    await talk.say(Intent("signup:other", "pro"))  # another flow's intent is not an answer
    await talk.say(Intent("signup:plan", "pro"))
    assert _shown(transport.commands[-1]) == "Your email?"
    await talk.say("/help")  # a command is not a text answer
    await talk.say("me@example.com")
    assert done == [{"plan": "pro", "email": "me@example.com"}]
    assert _shown(transport.commands[-1]) == "thanks"
    await talk.say("me@example.com")  # the flow is over: nothing more from the wizard
    assert len(transport.commands) == 3


async def test_a_label_as_text_answers_a_select_step_and_cancel_ends_it(make_ctx: MakeCtx) -> None:
    done: list[Any] = []
    transport = RecordingTransport()
    wizard = _wizard(MemorySessions(), done)
    agent = _agent(wizard, transport)
    talk = Talk(agent, make_ctx, DM)
    await talk.say("/signup")
    await talk.say("Free")
    assert _shown(transport.commands[-1]) == "Your email?"
    assert await wizard.is_active(agent, DM.conversation_id, "user")
    await talk.say("/cancel")
    assert done == ["cancelled"] and not await wizard.is_active(agent, DM.conversation_id, "user")


async def test_dm_moves_a_flow_from_a_group_to_a_dm(make_ctx: MakeCtx) -> None:
    done: list[Any] = []
    transport = RecordingTransport()
    agent = _agent(_wizard(MemorySessions(), done, dm=True), transport)
    talk = Talk(agent, make_ctx, GROUP)
    await talk.say("/signup")
    assert transport.ops[-1] == {"op": "create_dm", "to_inbox_id": "user"}
    assert transport.commands[-1].conversation_id == DM.conversation_id
    await talk.say("pro")  # in the group: not the flow's conversation
    assert len(transport.commands) == 1
    await talk.say("pro", info=DM)
    await talk.say("me@example.com", info=DM)
    assert done == [{"plan": "pro", "email": "me@example.com"}]


async def test_an_event_handled_twice_sends_the_same_keys_and_counts_once(make_ctx: MakeCtx) -> None:
    done: list[Any] = []
    transport = RecordingTransport()
    agent = _agent(_wizard(MemorySessions(), done), transport)
    talk = Talk(agent, make_ctx, DM)
    await talk.say("/signup", event_id="e-start")
    await talk.say("/signup", event_id="e-start")
    await talk.say("free", event_id="e-plan")
    await talk.say("free", event_id="e-plan")  # redelivered: the step is not advanced again
    keys = [c.idempotency_key for c in transport.commands]
    assert keys[0] == keys[1] and keys[2] == keys[3] and keys[0] != keys[2]
    assert _shown(transport.commands[3]) == "Your email?"
    await talk.say("me@example.com", event_id="e-mail")
    await talk.say("me@example.com", event_id="e-mail")  # completed and cleaned: no second completion
    assert done == [{"plan": "free", "email": "me@example.com"}]


def test_definitions_are_checked() -> None:
    with pytest.raises(ValueError):
        ActionWizard("no spaces")
    wizard = ActionWizard("w")
    wizard.text("a", "A?")
    with pytest.raises(ValueError):
        wizard.text("a", "again")
    with pytest.raises(ValueError):
        wizard.select("b", "B?", [("cancel", "Cancel")])
    with pytest.raises(TypeError):
        wizard.on_complete(lambda answers, ctx: None)  # type: ignore[arg-type, return-value]


async def test_postgres_sessions_survive_a_restart_and_are_sealed(make_ctx: MakeCtx, database_url: str) -> None:
    done: list[Any] = []
    key = b"\x07" * 32
    first_store = PostgresSessions(database_url, key, "t")
    transport = RecordingTransport()
    talk = Talk(_agent(_wizard(first_store, done), transport), make_ctx, DM)
    await talk.say("/signup")
    await talk.say("pro")
    await first_store.close()

    second_store = PostgresSessions(database_url, key, "t")  # a new router process
    talk.agent = _agent(_wizard(second_store, done), transport)
    conn = await asyncpg.connect(database_url)
    try:
        (state,) = await conn.fetchrow("SELECT state FROM router_wizard_sessions")
        assert b"pro" not in bytes(state)
        # the sealed state moved onto another user's row does not open
        await conn.execute("UPDATE router_wizard_sessions SET inbox_id = 'mallory'")
        with pytest.raises(SessionError):
            await second_store.get("signup", DM.conversation_id, "mallory")
        await conn.execute("UPDATE router_wizard_sessions SET inbox_id = 'user'")
    finally:
        await conn.close()
    await talk.say("me@example.com")
    assert done == [{"plan": "pro", "email": "me@example.com"}]
    assert await second_store.get("signup", DM.conversation_id, "user") is None
    await second_store.close()


def test_a_session_repr_hides_answers() -> None:
    session = Session("w", "c", "i", 1, {"email": "secret@example.com"}, "e")
    assert "secret" not in repr(session)
    assert Message("01", "c", "i", 1, "xmtp.org/text:1.0", "secret").__repr__().count("secret") == 0


async def test_expired_and_unopenable_sessions_are_dropped(make_ctx: MakeCtx, database_url: str) -> None:
    done: list[Any] = []
    store = PostgresSessions(database_url, b"\x07" * 32, "t", ttl_s=3600)
    transport = RecordingTransport()
    talk = Talk(_agent(_wizard(store, done), transport), make_ctx, DM)
    await talk.say("/signup")
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE router_wizard_sessions SET updated_at = now() - interval '2 hours'")
        assert await store.get("signup", DM.conversation_id, "user") is None  # expired: never read
        assert await store.purge() == 1
        await talk.say("/signup")
        await conn.execute("UPDATE router_wizard_sessions SET state = '\\x00'::bytea || substring(state from 2)")
        sent = len(transport.commands)
        await talk.say("free")  # the row does not open: dropped, the message goes on (no error, no answer)
        assert len(transport.commands) == sent
        assert await conn.fetchval("SELECT count(*) FROM router_wizard_sessions") == 0
    finally:
        await conn.close()
        await store.close()
