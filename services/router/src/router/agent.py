"""`Agent` and `Router`: handlers for events, grouped in routers and included into an agent (aiogram-style).

Event names are the Agent SDK's: the content events (`text`, `markdown`, `reply`, `reaction`, `read-receipt`,
`attachment`, `inline-attachment`, `multi-attachment`, `actions`, `intent`, `leave-request`, `group-update`,
`transaction-reference`, `wallet-send-calls`, `unknown_message`), then `message` for every message after its
specific event; `conversation`, `dm`, `group` when the agent joins one; `start`, `stop`, `unhandled_error`.

A handler is `async def f(ctx)`, or takes any of `ctx`, `message`, `conversation`, `agent`, `args`, `match` by
name. Filters (`router.filters`) narrow it. The first handler of an event whose filters pass handles it.
Messages the agent sent itself are not dispatched unless a handler asks for them with `own=True`.

Middleware has the Agent SDK's semantics, but every step is awaited (the TS SDK's emit drops async errors):
- outer (`agent.use(mw)`): `await mw(ctx, next)` for every message, in registration order, before any filter;
  `await next()` continues, returning without it stops the chain (no event fires), raising runs the error chain.
- inner (`router.use_inner(mw)`): `await mw(ctx, next)` around each handler of that router (and of routers it
  includes) whose filters passed; `next()` runs the handler, returning without it skips the handler.
- error (`agent.errors.use(emw)`): `await emw(error, ctx, next)`; `await next()` recovers (the main chain
  resumes with the middleware after the one that raised, or with `message` after a handler), `await
  next(other)` passes `other` on, returning stops, raising passes the raised error on. The last, default step
  calls the `unhandled_error` handlers (`error` by name) or logs. A handler's exception never stops the
  worker."""

from __future__ import annotations

import inspect
import logging
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from xmtp_core.content import default_registry
from xmtp_core.content.codec import ContentCodec
from xmtp_core.untrusted import clean_error

from router.config import AgentConfig
from router.consent import ConsentState, ConsentStore, check_state, consent_store
from router.context import Conversation, ConversationContext, Message, MessageContext, message_from_event
from router.effects import LEASE_S, Effects, effects_from_env
from router.filters import Filter, as_filter
from router.transport import AgentError, Transport

log = logging.getLogger(__name__)

CONTENT_EVENTS: dict[str, str] = {
    "xmtp.org/text": "text",
    "xmtp.org/markdown": "markdown",
    "xmtp.org/reply": "reply",
    "xmtp.org/reaction": "reaction",
    "xmtp.org/readReceipt": "read-receipt",
    "xmtp.org/remoteStaticAttachment": "attachment",
    "xmtp.org/attachment": "inline-attachment",
    "xmtp.org/multiRemoteStaticAttachment": "multi-attachment",
    "coinbase.com/actions": "actions",
    "coinbase.com/intent": "intent",
    "xmtp.org/leave_request": "leave-request",
    "xmtp.org/group_updated": "group-update",
    "xmtp.org/transactionReference": "transaction-reference",
    "xmtp.org/walletSendCalls": "wallet-send-calls",
}
MESSAGE_EVENTS = frozenset(CONTENT_EVENTS.values()) | {"unknown_message", "message"}
CONVERSATION_EVENTS = frozenset({"conversation", "dm", "group"})
LIFECYCLE_EVENTS = frozenset({"start", "stop", "unhandled_error"})
EVENTS = MESSAGE_EVENTS | CONVERSATION_EVENTS | LIFECYCLE_EVENTS

HandlerFn = Callable[..., Awaitable[Any]]
Next = Callable[[], Awaitable[Any]]
Middleware = Callable[[Any, Next], Awaitable[Any]]
ErrorNext = Callable[..., Awaitable[None]]
ErrorMiddleware = Callable[[Exception, Any, ErrorNext], Awaitable[Any]]
Chain = tuple[Middleware, ...]
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HEX_ID = re.compile(r"^(?:[0-9a-f]{2}){1,128}$")  # what the bus takes as a message id
_UNSET: Any = object()


def event_for_content_type(content_type: str) -> str:
    """The content event of a type id (`authority/type:major.minor`); versions do not matter."""
    return CONTENT_EVENTS.get(content_type.split(":", 1)[0], "unknown_message")


@dataclass(frozen=True)
class Handler:
    event: str
    fn: HandlerFn
    filters: tuple[Filter, ...]
    own: bool = False

    async def matches(self, ctx: Any) -> bool:
        if not self.own and getattr(getattr(ctx, "message", None), "is_own", False):
            return False
        for f in self.filters:
            if not await f(ctx):
                return False
        return True

    async def call(self, ctx: Any, **extra: Any) -> Any:
        available = {
            "ctx": ctx, "context": ctx, "message": getattr(ctx, "message", None), "conversation": ctx.conversation,
            "agent": ctx.agent, "args": getattr(ctx, "args", []), "match": getattr(ctx, "match", None), **extra,
        }  # fmt: skip
        params = inspect.signature(self.fn).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return await self.fn(**available)
        kwargs = {name: available[name] for name in params if name in available}
        if not kwargs and params:  # a single positional parameter of any name is the context
            return await self.fn(ctx)
        return await self.fn(**kwargs)


@dataclass
class Router:
    """A named group of handlers; `agent.include_router(router)` adds them (in order) to the agent."""

    name: str = "router"
    handlers: list[Handler] = field(default_factory=list)
    routers: list[Router] = field(default_factory=list)
    inner: list[Middleware] = field(default_factory=list)

    def use_inner(self, *middleware: Middleware | list[Middleware]) -> None:
        """Inner middleware: `await mw(ctx, next)` around each matched handler of this router and its children."""
        self.inner.extend(_flat(middleware))

    def on(
        self, event: str, *filters: Filter | Callable[[Any], Any], own: bool = False
    ) -> Callable[[HandlerFn], HandlerFn]:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; events: {', '.join(sorted(EVENTS))}")

        def register(fn: HandlerFn) -> HandlerFn:
            if not inspect.iscoroutinefunction(fn):
                raise TypeError("handlers are async functions")
            self.handlers.append(Handler(event, fn, tuple(as_filter(f) for f in filters), own))
            return fn

        return register

    def include_router(self, router: Router) -> None:
        if router is self or self in router.all_routers():
            raise ValueError("a router cannot include itself")
        self.routers.append(router)

    def all_routers(self) -> list[Router]:
        out = [self]
        for r in self.routers:
            out.extend(r.all_routers())
        return out

    def handlers_for(self, event: str) -> list[Handler]:
        return [h for h, _ in self.chains_for(event)]

    def chains_for(self, event: str, above: Chain = ()) -> list[tuple[Handler, Chain]]:
        """The event's handlers in order, each with the inner middleware that wraps it (outermost first)."""
        chain = above + tuple(self.inner)
        out = [(h, chain) for h in self.handlers if h.event == event]
        for r in self.routers:
            out.extend(r.chains_for(event, chain))
        return out


class ErrorChain:
    """The error middleware, in registration order (`agent.errors.use`)."""

    def __init__(self) -> None:
        self.middleware: list[ErrorMiddleware] = []

    def use(self, *middleware: ErrorMiddleware | list[ErrorMiddleware]) -> None:
        self.middleware.extend(_flat(middleware))


def _flat(items: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        out.extend(item if isinstance(item, list | tuple) else [item])
    for fn in out:
        if not callable(fn):
            raise TypeError("middleware is an async callable")
    return out


class Agent(Router):
    """An XMTP agent: its name on the bus (the deployment's agent token) and its handlers.

    The transport is attached by the worker that runs it (`router.worker`); `create_dm` / `create_group` and
    the other operations need it."""

    def __init__(self, name: str = "agent", *, include_denied: bool = False) -> None:
        super().__init__(name)
        self.include_denied = include_denied
        self.name_resolver: Callable[[str], Awaitable[str | None]] | None = None  # e.g. utils.create_name_resolver()
        self._consent: ConsentStore | None = None
        self._effects: Effects | None = None
        self.outer: list[Middleware] = []
        self.errors = ErrorChain()
        self.transport: Transport | None = None
        self.inbox_id: str = ""
        self.address: str = ""
        self.registry = default_registry()
        self.config = AgentConfig()

    @property
    def consent(self) -> ConsentStore:
        """Where consent is kept (`router.consent`: Postgres when DATABASE_URL is set)."""
        if self._consent is None:
            self._consent = consent_store(self.name)
        return self._consent

    @consent.setter
    def consent(self, store: ConsentStore) -> None:
        self._consent = store

    @property
    def effects(self) -> Effects:
        """Where `once` records side effects (`router.effects`: Postgres when DATABASE_URL is set)."""
        if self._effects is None:
            self._effects = effects_from_env(self.name)
        return self._effects

    @effects.setter
    def effects(self, effects: Effects) -> None:
        self._effects = effects

    async def once(
        self, key: str, fn: Callable[..., Awaitable[Any]], *, lease_s: float = LEASE_S, retry_interrupted: bool = True
    ) -> Any:
        """Run the side effect ``fn`` once for ``key`` (yours: derive it from what triggered the effect), as
        `ctx.once` does for an event (see `router.effects`)."""
        return await self.effects.once("agent", key, fn, lease_s=lease_s, retry_interrupted=retry_interrupted)

    async def set_consent(self, state: str, *, conversation_id: str | None = None, inbox_id: str | None = None) -> None:
        """Allow, deny or forget a conversation or an inbox (exactly one)."""
        kind, entity = _consent_target(conversation_id, inbox_id)
        await self.consent.set(kind, entity, check_state(state))

    async def get_consent(self, *, conversation_id: str | None = None, inbox_id: str | None = None) -> ConsentState:
        kind, entity = _consent_target(conversation_id, inbox_id)
        return await self.consent.get(kind, entity) or "unknown"

    async def conversation_consent(self, conversation: Conversation) -> ConsentState:
        """The conversation's record, else a DM peer's, else unknown; unknown when the store fails."""
        try:
            own = await self.consent.get("conversation", conversation.id)
            if own is None and conversation.is_dm and conversation.dm_peer_inbox_id:
                own = await self.consent.get("inbox", conversation.dm_peer_inbox_id)
        except Exception as exc:  # fail open: a database outage must not silence the agent
            log.warning("consent unreadable, taken as unknown: %s", clean_error(exc))
            return "unknown"
        return own or "unknown"

    def register_codec(self, codec: ContentCodec[Any]) -> None:
        """A custom content type: decoded for handlers (`unknown_message` with its value) and sendable with
        `conversation.send(value)` (crypto sends only types its own registry knows)."""
        self.registry.register(codec)

    def use(self, *middleware: Middleware | list[Middleware]) -> None:
        """Outer middleware: `await mw(ctx, next)` for every message, before filters (the Agent SDK's `use`)."""
        self.outer.extend(_flat(middleware))

    def _transport(self) -> Transport:
        if self.transport is None:
            raise RuntimeError("the agent is not running (no transport): start it with `switchboard router`")
        return self.transport

    def _conversation(self, info: Any) -> Conversation:
        return Conversation(info, self._transport(), self.name, self.registry)

    async def create_dm(self, inbox_id: str) -> Conversation:
        response = await self._transport().op({"op": "create_dm", "to_inbox_id": inbox_id})
        return self._conversation(response.conversation)

    async def resolve_address(self, name_or_address: str) -> str:
        """An address as given, or a name through `name_resolver`; AgentError `name_not_resolved` (the SDK's
        2000) when it resolves to nothing or there is no resolver."""
        if _ADDRESS.match(name_or_address):
            return name_or_address
        found = await self.name_resolver(name_or_address) if self.name_resolver is not None else None
        if found is None:
            raise AgentError("name_not_resolved", "no address for that name")
        return found

    async def create_dm_with_address(self, address: str) -> Conversation:
        """A DM with the holder of ``address`` (or of a name, through `name_resolver`)."""
        address = await self.resolve_address(address)
        response = await self._transport().op({"op": "create_dm", "to_address": address})
        return self._conversation(response.conversation)

    async def create_group(self, inbox_ids: list[str], *, name: str = "", description: str = "") -> Conversation:
        request = {"op": "create_group", "members": inbox_ids, "name": name, "description": description}
        response = await self._transport().op(request)
        return self._conversation(response.conversation)

    async def get_conversation(self, conversation_id: str) -> Conversation:
        response = await self._transport().op({"op": "conversation", "conversation_id": conversation_id})
        return self._conversation(response.conversation)

    async def get_conversation_context(self, conversation_id: str, *, key: str | None = None) -> ConversationContext:
        """A context for sending outside any event; ``key`` names its sends (random when None: each call is
        new), so pass one derived from what triggered it to make a retry send nothing twice."""
        conversation = await self.get_conversation(conversation_id)
        return ConversationContext(self, conversation, key or f"ctx-{secrets.token_hex(16)}")

    async def create_group_with_addresses(
        self, addresses: list[str], *, name: str = "", description: str = ""
    ) -> Conversation:
        addresses = [await self.resolve_address(a) for a in addresses]
        request = {"op": "create_group", "member_addresses": addresses, "name": name, "description": description}
        response = await self._transport().op(request)
        return self._conversation(response.conversation)

    async def lookup_inbox(self, address: str) -> str | None:
        """The inbox id of an Ethereum address (None when it has none)."""
        response = await self._transport().op({"op": "lookup_inbox", "address": address})
        return response.inbox_id

    async def get_message(self, conversation_id: str, message_id: str) -> Message | None:
        """A message of the conversation as crypto stored it, decoded; None when unknown or not a message id."""
        if not _HEX_ID.match(message_id):
            return None
        request = {"op": "message", "conversation_id": conversation_id, "message_id": message_id}
        found = (await self._transport().op(request)).messages or []
        return message_from_event(found[0], self.registry) if found else None

    async def lookup_addresses(self, inbox_id: str) -> list[str]:
        """The Ethereum addresses linked to an inbox, oldest first (crypto verifies its identity log)."""
        response = await self._transport().op({"op": "lookup_addresses", "inbox_id": inbox_id})
        return list(response.addresses or [])

    async def add_members_with_addresses(self, group: Conversation, addresses: list[str]) -> None:
        inbox_ids = []
        for address in addresses:
            inbox_id = await self.lookup_inbox(await self.resolve_address(address))
            if inbox_id is None:
                raise AgentError("not_found", "an address has no inbox")
            inbox_ids.append(inbox_id)
        await group.add_members(inbox_ids)

    @classmethod
    def create_from_env(cls, name: str = "agent", env: dict[str, str] | None = None) -> Agent:
        """An agent configured from the Agent SDK's env names (`router.config`): its address from
        XMTP_WALLET_KEY, the router's log level from XMTP_FORCE_DEBUG_LEVEL."""
        agent = cls(name)
        agent.config = AgentConfig.from_env(env)
        agent.address = agent.config.address
        if agent.config.log_level != logging.WARNING or (env or os.environ).get("XMTP_FORCE_DEBUG_LEVEL"):
            logging.getLogger("router").setLevel(agent.config.log_level)
        return agent

    # ---- dispatch (used by the worker) ---------------------------------------------------------------------

    async def dispatch_message(self, ctx: MessageContext) -> bool:
        """The outer middleware, then the message's specific event and `message`; True when a handler ran."""
        ran = False

        async def events() -> None:
            nonlocal ran
            for event in (event_for_content_type(ctx.message.content_type), "message"):
                handled, stop = await self._first(event, ctx)
                ran = ran or handled
                if stop:
                    return

        async def step(i: int) -> None:
            if i == len(self.outer):
                await events()
                return
            called = False

            async def next_() -> None:
                nonlocal called
                if called:
                    return  # a middleware calling next twice does not dispatch twice
                called = True
                await step(i + 1)

            try:
                await self.outer[i](ctx, next_)
            except Exception as exc:  # next_ never raises: this came from the middleware itself
                if await self.handle_error(exc, ctx) and not called:
                    await step(i + 1)

        await step(0)
        return ran

    async def dispatch_conversation(self, ctx: ConversationContext) -> bool:
        ran, stop = await self._first("dm" if ctx.conversation.is_dm else "group", ctx)
        if stop:
            return ran
        return (await self._first("conversation", ctx))[0] or ran

    async def lifecycle(self, event: str) -> None:
        for handler in self.handlers_for(event):
            try:
                await handler.fn(self) if _takes_one(handler.fn) else await handler.fn()
            except Exception as exc:
                log.error("%s handler failed: %s", event, clean_error(exc))

    async def _first(self, event: str, ctx: Any) -> tuple[bool, bool]:
        """Run the first matching handler: (one ran, its error was not recovered)."""
        for handler, inner in self.chains_for(event):
            try:
                if not await handler.matches(ctx):
                    continue
                await _wrapped(handler, inner, ctx)
            except Exception as exc:
                return True, not await self.handle_error(exc, ctx)
            return True, False
        return False, False

    async def handle_error(self, error: Exception, ctx: Any) -> bool:
        """The error chain for ``error``; True when a middleware recovered (called `next()` with no error)."""
        chain = self.errors.middleware

        async def step(i: int, err: Exception) -> bool:
            if i == len(chain):
                await self._unhandled(err, ctx)
                return False
            outcome: bool | None = None

            async def next_(passed: Exception = _UNSET) -> None:
                nonlocal outcome
                if outcome is not None:
                    return
                if passed is _UNSET:
                    outcome = True
                elif not isinstance(passed, Exception):
                    outcome = await step(i + 1, AgentError("non_error", f"next() got a {type(passed).__name__}"))
                else:
                    outcome = await step(i + 1, passed)

            try:
                await chain[i](err, ctx, next_)
            except Exception as thrown:
                if outcome is None:
                    return await step(i + 1, thrown)
                log.error("error middleware raised after next(): %s", clean_error(thrown))
            return bool(outcome)

        return await step(0, error)

    async def _unhandled(self, exc: Exception, ctx: Any) -> None:
        handlers = self.handlers_for("unhandled_error")
        if not handlers:
            log.error("unhandled error in a handler or middleware: %s", clean_error(exc))
            return
        for handler in handlers:
            try:
                await handler.call(ctx, error=exc)
            except Exception as again:
                log.error("unhandled_error handler raised: %s", clean_error(again))


async def _wrapped(handler: Handler, inner: tuple[Middleware, ...], ctx: Any) -> None:
    """The handler inside its inner middleware; each `next()` runs the rest once."""

    async def step(i: int) -> Any:
        if i == len(inner):
            return await handler.call(ctx)
        done = False

        async def next_() -> Any:
            nonlocal done
            if done:
                return None
            done = True
            return await step(i + 1)

        return await inner[i](ctx, next_)

    await step(0)


def _consent_target(conversation_id: str | None, inbox_id: str | None) -> tuple[str, str]:
    if (conversation_id is None) == (inbox_id is None):
        raise ValueError("give exactly one of conversation_id, inbox_id")
    return ("conversation", conversation_id) if conversation_id is not None else ("inbox", inbox_id or "")


def _takes_one(fn: HandlerFn) -> bool:
    return len(inspect.signature(fn).parameters) >= 1
