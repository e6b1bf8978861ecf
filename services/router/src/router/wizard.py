"""`ActionWizard`: a guided flow of select steps (an Actions message, answered with an Intent) and text steps,
with its sessions in Postgres (`router.sessions`), so a flow survives a router restart and works across
replicas (the Agent SDK keeps them in memory).

    signup = ActionWizard("signup", dm=True)
    signup.select("plan", "Pick a plan", [("free", "Free"), ("pro", "Pro")])
    signup.text("email", "Your email?")

    @signup.on_complete
    async def done(answers: dict[str, str], ctx: MessageContext) -> None: ...

    agent.use(signup.middleware())

The text `/signup` starts it (`dm=True`: in a DM with the sender, wherever it was asked; what suits secrets).
A select step's Actions id is `<wizard>:<step>`; its answer is an Intent with that id, or the text of one
action's id or label (for clients without actions). `/cancel` (or the cancel action) ends the flow through
`on_cancel`. Sessions are keyed by conversation and sender inbox. Each step records the message that moved it
(its `scope`, the message id): a handler run again for that message (at-least-once delivery, or the same
message in a second envelope) re-sends what the first run sent, under the same idempotency keys, so nothing
goes out twice and no answer is counted twice."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from xmtp_core.content.codecs.coinbase import Action, Actions, Intent
from xmtp_core.untrusted import clean_error

from router.agent import Middleware, Next
from router.context import Conversation
from router.sessions import MemorySessions, PostgresSessions, Session, SessionError, SessionStore

log = logging.getLogger(__name__)

MAX_ANSWER = 2000  # characters of a text answer
CANCEL_ID = "cancel"


@dataclass(frozen=True)
class Step:
    id: str
    description: str
    kind: str  # "select" or "text"
    actions: tuple[Action, ...] = ()
    markdown: bool = False


class ActionWizard:
    """A flow of steps started by `/<id>`; answers go to `on_complete(answers, ctx)`."""

    def __init__(
        self, id: str, *, dm: bool = False, cancel: bool | str = True, sessions: SessionStore | None = None
    ) -> None:
        if not id or not id.replace("-", "").replace("_", "").isalnum() or len(id) > 64:
            raise ValueError("a wizard id is letters, digits, - and _ (at most 64)")
        self.id = id
        self.dm = dm
        self.cancel_label = cancel if isinstance(cancel, str) else ("Cancel" if cancel else None)
        self.steps: list[Step] = []
        self._sessions = sessions
        self._complete: Callable[..., Awaitable[Any]] | None = None
        self._cancel: Callable[..., Awaitable[Any]] | None = None

    # ---- definition ----------------------------------------------------------------------------------------

    def select(self, step_id: str, description: str, actions: list[tuple[str, str]] | list[Action]) -> ActionWizard:
        listed = tuple(a if isinstance(a, Action) else Action(a[0], a[1]) for a in actions)
        if not listed or any(a.id == CANCEL_ID for a in listed):
            raise ValueError(f"a select step has actions, none with the id {CANCEL_ID!r}")
        return self._add(Step(step_id, description, "select", listed))

    def text(self, step_id: str, description: str, *, markdown: bool = False) -> ActionWizard:
        return self._add(Step(step_id, description, "text", markdown=markdown))

    def _add(self, step: Step) -> ActionWizard:
        if any(s.id == step.id for s in self.steps) or ":" in step.id or not step.id:
            raise ValueError(f"step ids are unique and have no ':': {step.id!r}")
        self.steps.append(step)
        return self

    def on_complete(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        self._complete = _async(fn)
        return fn

    def on_cancel(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        self._cancel = _async(fn)
        return fn

    # ---- running -------------------------------------------------------------------------------------------

    def sessions(self, agent_name: str) -> SessionStore:
        if self._sessions is None:
            if os.environ.get("DATABASE_URL"):
                self._sessions = PostgresSessions.from_env(agent_name)
            else:
                log.warning("wizard %s: no DATABASE_URL, sessions kept in memory (lost on restart)", self.id)
                self._sessions = MemorySessions()
        return self._sessions

    async def is_active(self, ctx_or_agent: Any, conversation_id: str, inbox_id: str) -> bool:
        agent = getattr(ctx_or_agent, "agent", ctx_or_agent)
        return await self.sessions(agent.name).get(self.id, conversation_id, inbox_id) is not None

    def middleware(self) -> Middleware:
        async def wizard(ctx: Any, next_: Next) -> None:
            if not await self.handle(ctx):
                await next_()

        return wizard

    async def handle(self, ctx: Any) -> bool:
        """Start, advance or cancel the flow of ``ctx``'s sender; True when the message was the wizard's."""
        message = ctx.message
        text = message.content.strip() if isinstance(message.content, str) else None
        if text is not None and text.lower() == f"/{self.id}":
            await self.start(ctx)
            return True
        store = self.sessions(ctx.agent.name)
        try:
            session = await store.get(self.id, message.conversation_id, message.sender_inbox_id)
        except SessionError as exc:  # a row that does not open would otherwise fail each of the user's messages
            log.warning("wizard %s: dropping a session that does not open (%s)", self.id, clean_error(exc))
            await store.delete(self.id, message.conversation_id, message.sender_inbox_id)
            return False
        if session is None:
            return False
        if session.last_event_id == ctx.scope:  # this event moved it already: send again what it sent
            await self._after_move(ctx, ctx.conversation, session, store)
            return True
        if session.step >= len(self.steps) or session.step < 0:  # ended by another event, not cleaned up yet
            await store.delete(self.id, session.conversation_id, session.inbox_id)
            return False
        answer = self._answer(self.steps[session.step], message.content, text)
        if answer is None:
            return False  # not an answer to this step: other handlers may have it
        if answer == CANCEL_ID:
            session.step, session.last_event_id = -1, ctx.scope
        else:
            if len(answer) > MAX_ANSWER:
                await ctx.send_text(f"that answer is over {MAX_ANSWER} characters; try again")
                return True
            session.answers[self.steps[session.step].id] = answer
            session.step += 1
            session.last_event_id = ctx.scope
        await store.put(session)
        await self._after_move(ctx, ctx.conversation, session, store)
        return True

    async def start(self, ctx: Any) -> None:
        """Begin (or begin again) for ``ctx``'s sender, in a DM with them when `dm`."""
        if not self.steps:
            raise ValueError(f"wizard {self.id} has no steps")
        sender = ctx.message.sender_inbox_id
        target: Conversation = ctx.conversation
        if self.dm and not ctx.conversation.is_dm:
            target = await ctx.agent.create_dm(sender)
        store = self.sessions(ctx.agent.name)
        session = await store.get(self.id, target.id, sender)
        if session is None or session.last_event_id != ctx.scope:
            session = Session(self.id, target.id, sender, 0, {}, ctx.scope)
            await store.put(session)
        await self._prompt(ctx, target, self.steps[0])

    def _answer(self, step: Step, content: Any, text: str | None) -> str | None:
        if text is not None and text.lower() in ("/cancel", "cancel") and self.cancel_label:
            return CANCEL_ID
        if step.kind == "text":
            return text if text and not text.startswith("/") else None
        if isinstance(content, Intent):
            if content.id != f"{self.id}:{step.id}":
                return None
            if content.action_id == CANCEL_ID and self.cancel_label:
                return CANCEL_ID
            return content.action_id if any(a.id == content.action_id for a in step.actions) else None
        if text is not None:
            for action in step.actions:
                if text.lower() in (action.id.lower(), action.label.lower()):
                    return action.id
        return None

    async def _after_move(self, ctx: Any, target: Conversation, session: Session, store: SessionStore) -> None:
        if session.step == -1:
            await store.delete(self.id, session.conversation_id, session.inbox_id)
            if self._cancel is not None:
                await self._cancel(ctx)
            else:
                await target.send_text("cancelled", idempotency_key=ctx.idempotency_key())
        elif session.step >= len(self.steps):
            if self._complete is not None:
                await self._complete(dict(session.answers), ctx)
            await store.delete(self.id, session.conversation_id, session.inbox_id)
        else:
            await self._prompt(ctx, target, self.steps[session.step])

    async def _prompt(self, ctx: Any, target: Conversation, step: Step) -> None:
        key = ctx.idempotency_key()
        if step.kind == "text":
            if step.markdown:
                await target.send_markdown(step.description, idempotency_key=key)
            else:
                await target.send_text(step.description, idempotency_key=key)
            return
        actions = step.actions
        if self.cancel_label:
            actions = (*actions, Action(CANCEL_ID, self.cancel_label))
        await target.send_actions(Actions(f"{self.id}:{step.id}", step.description, actions), idempotency_key=key)


def _async(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError("wizard callbacks are async functions")
    return fn
