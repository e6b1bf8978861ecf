"""The `switchboard` command: one subcommand per service, plus `run` for the whole local stack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Switchboard: XMTP agents over NATS.")


@app.callback()
def _logging() -> None:
    """Log lines to stderr at LOG_LEVEL (INFO by default); they never hold message content or keys."""
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per migration step at every start


def _serve(main: Coroutine[Any, Any, None]) -> None:
    """Run a service until it ends, or until SIGTERM / SIGINT cancel it (so its cleanup runs and it says what it
    did, as an orchestrator's stop expects)."""

    async def supervised() -> None:
        task = asyncio.ensure_future(main)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(supervised())


@app.command()
def devnode(
    listen: str = typer.Option("127.0.0.1:5556", help="HOST:PORT for the gRPC (h2c) listener"),
    database_url: str = typer.Option(..., envvar="DATABASE_URL", help="Postgres URL for the node's state"),
    grpc_web_listen: str | None = typer.Option(
        None, help="HOST:PORT for the same APIs over gRPC-web (HTTP/1.1, CORS), for browsers"
    ),
) -> None:
    """Run a local XMTP node (MlsApi + IdentityApi) backed by Postgres."""
    from devnode.main import serve

    asyncio.run(serve(listen, database_url, grpc_web_listen=grpc_web_listen))


@app.command()
def ingest() -> None:
    """Node envelopes of every agent installation into JetStream (NATS_URL, XMTP_ENV / XMTP_API_URL, SB_AGENTS)."""
    from ingest.main import serve

    _serve(serve())


@app.command()
def crypto() -> None:
    """Decrypt, join, commit and publish for every agent (NATS_URL, DATABASE_URL, SB_AGENTS, XMTP_WALLET_KEY[_<AGENT>],
    XMTP_DB_ENCRYPTION_KEY, XMTP_ENV / XMTP_API_URL)."""
    from crypto.service import serve

    _serve(serve())


@app.command()
def router(
    app_spec: str = typer.Option(
        ..., "--app", help="the agent to host, as module:attribute (e.g. examples.echo:agent)"
    ),
) -> None:
    """Run agent handlers on the events of SB_EV (NATS_URL, SB_PARTITIONS); replicas share the load."""
    from router.main import serve

    _serve(serve(app_spec))


@app.command()
def publisher() -> None:
    """Envelopes from SB_PUB to the XMTP node, results to SB_RES (NATS_URL, XMTP_ENV / XMTP_API_URL)."""
    from publisher.main import serve

    _serve(serve())


@app.command()
def asyncapi(
    fmt: str = typer.Option("json", "--format", help="json or yaml"),
) -> None:
    """Print the bus's AsyncAPI document, generated from the schemas in `xmtp_core.bus`."""
    from xmtp_core.bus.asyncapi import document

    typer.echo(document(fmt))


@app.command()
def run(
    listen: str = typer.Option("127.0.0.1:5556", help="HOST:PORT for devnode"),
    app_spec: str = typer.Option("examples.echo:agent", "--app", help="the agent to run, as module:attribute"),
    agent: str = typer.Option("echo", help="the agent's name on the bus"),
    state_dir: str = typer.Option(".run", help="where the private Postgres keeps its data between runs"),
    env_file: str = typer.Option(".env", help="where the agent's keys are kept when the env does not give them"),
) -> None:
    """The local stack: NATS and Postgres (unless NATS_URL / DATABASE_URL name them), devnode, ingest, crypto,
    publisher and the router with the agent; keys from the env or a generated `.env`. Ctrl-C stops it all."""
    from switchboard.stack import run_stack

    run_stack(listen, app_spec, agent, Path(state_dir), Path(env_file), typer.echo)


if __name__ == "__main__":
    app()
