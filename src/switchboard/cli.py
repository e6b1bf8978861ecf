"""The `switchboard` command: one subcommand per service, plus `run` for the whole local stack."""

from __future__ import annotations

import asyncio
import os

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Switchboard: XMTP agents over NATS.")


@app.command()
def devnode(
    listen: str = typer.Option("127.0.0.1:5556", help="HOST:PORT for the gRPC (h2c) listener"),
    database_url: str = typer.Option(..., envvar="DATABASE_URL", help="Postgres URL for the node's state"),
) -> None:
    """Run a local XMTP node (MlsApi + IdentityApi) backed by Postgres."""
    from devnode.main import serve

    asyncio.run(serve(listen, database_url))


@app.command()
def run(
    listen: str = typer.Option("127.0.0.1:5556", help="HOST:PORT for devnode"),
) -> None:
    """Start everything the local stack needs (NATS and Postgres if not given by env), then devnode."""
    from devnode.main import serve

    from switchboard.devservices import dev_services

    with dev_services() as svc:
        os.environ.setdefault("NATS_URL", svc.nats_url)
        typer.echo(f"NATS      {svc.nats_url}")
        typer.echo(f"Postgres  {svc.database_url}")
        try:
            asyncio.run(serve(listen, svc.database_url, announce=True))
        except KeyboardInterrupt:
            typer.echo("stopping")


if __name__ == "__main__":
    app()
