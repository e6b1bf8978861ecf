"""`CommandRouter`: slash commands with descriptions and an automatic help command (the Agent SDK's, as
middleware or as one handler).

    commands = CommandRouter()

    @commands.command("/price", "the price of a token")
    async def price(ctx: MessageContext, args: list[str]) -> None: ...

    agent.use(commands.middleware())      # or: agent.on("text")(commands.handle)

Matching as the SDK: the text up to its first space, lowercased, is the command. The handler gets the words
after it as `args` (split on whitespace) and the rest of the text as `text` (the SDK rewrote `message.content`;
our messages are immutable). `/help` (or `help_command`) answers a markdown reply listing the commands, sorted and
numbered. Text that is no command, and every other content, goes on to the next middleware (`next()`), or to
the `default` handler when one is set."""

from __future__ import annotations

import inspect
from typing import Any

from router.agent import Handler, HandlerFn, Middleware, Next

MAX_COMMAND = 64


class CommandRouter:
    """Commands by name (`/cmd`, stored lowercased) with descriptions, a default handler and `/help`."""

    def __init__(self, *, help_command: str | None = "/help", help_title: str = "Available commands") -> None:
        if help_command is not None:
            _check_name(help_command)
        self.help_command = help_command.lower() if help_command else None
        self.help_title = help_title
        self._commands: dict[str, tuple[str, Handler]] = {}
        self._default: Handler | None = None

    def command(self, name: str, description: str = "", handler: HandlerFn | None = None) -> Any:
        """Register ``handler`` for ``name``; without a handler, a decorator."""
        _check_name(name)

        def register(fn: HandlerFn) -> HandlerFn:
            if not inspect.iscoroutinefunction(fn):
                raise TypeError("command handlers are async functions")
            key = name.lower()
            if key in self._commands or key == self.help_command:
                raise ValueError(f"command {key} is registered twice")
            self._commands[key] = (description, Handler("text", fn, ()))
            return fn

        return register(handler) if handler is not None else register

    def default(self, handler: HandlerFn) -> HandlerFn:
        """The handler of text that is no registered command."""
        self._default = Handler("text", handler, ())
        return handler

    @property
    def command_list(self) -> list[tuple[str, str]]:
        """(command, description) of every command, sorted; the help command last."""
        listed = sorted((name, description) for name, (description, _) in self._commands.items())
        if self.help_command:
            listed.append((self.help_command, "this list"))
        return listed

    def help_text(self) -> str:
        lines = [f"**{self.help_title}**", ""]
        for n, (name, description) in enumerate(self.command_list, 1):
            lines.append(f"{n}. `{name}`" + (f": {description}" if description else ""))
        return "\n".join(lines)

    async def handle(self, ctx: Any) -> bool:
        """Run the command of ``ctx``'s text (or the default handler); True when something ran."""
        content = getattr(getattr(ctx, "message", None), "content", None)
        if not isinstance(content, str):
            return False
        first, _, rest = content.partition(" ")
        name = first.lower() if len(first) <= MAX_COMMAND else ""
        if name and name == self.help_command:
            await ctx.send_markdown_reply(self.help_text())
            return True
        found = self._commands.get(name)
        handler = found[1] if found else self._default
        if handler is None:
            return False
        ctx.args = (rest if found else content).split()
        await handler.call(ctx, text=rest if found else content)
        return True

    def middleware(self) -> Middleware:
        """The router as outer middleware: a command stops the chain, anything else goes on."""

        async def commands(ctx: Any, next_: Next) -> None:
            if not await self.handle(ctx):
                await next_()

        return commands


def _check_name(name: str) -> None:
    if not name.startswith("/") or len(name) < 2 or len(name) > MAX_COMMAND or " " in name:
        raise ValueError(f"a command is '/name' without spaces, at most {MAX_COMMAND} characters: {name!r}")
