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
from typing import Annotated, Any

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
    app_spec: Annotated[
        list[str],
        typer.Option("--app", help="an agent to host, as module:attribute (e.g. examples.echo:agent); repeat for more"),
    ],
) -> None:
    """Run agent handlers on the events of SB_EV (NATS_URL, SB_PARTITIONS); replicas share the load. Several
    `--app` run several agents in this one process."""
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


COMPOSE_SECRETS = (
    "POSTGRES_PASSWORD",
    "NATS_JS_KEY",
    "NATS_INGEST_PASSWORD",
    "NATS_CRYPTO_PASSWORD",
    "NATS_ROUTER_PASSWORD",
    "NATS_PUBLISHER_PASSWORD",
)


@app.command("compose-secrets")
def compose_secrets(
    env_file: str = typer.Option(".env", help="the file `docker compose` reads its secrets from"),
) -> None:
    """Write the agent's keys and the compose stack's passwords into `.env` (0600), keeping any already there (like
    the Agent SDK's `gen:keys`). Prints the names written, never the values."""
    import secrets

    from switchboard.stack import _read_env_file, ensure_keys

    path = Path(env_file)
    before = set(_read_env_file(path))
    ensure_keys(path, {})
    missing = [name for name in COMPOSE_SECRETS if name not in _read_env_file(path)]
    if missing:
        with path.open("a") as out:
            out.writelines(f"{name}={secrets.token_hex(32)}\n" for name in missing)
    path.chmod(0o600)
    written = sorted(set(_read_env_file(path)) - before)
    typer.echo(f"{path}: wrote {', '.join(written)}" if written else f"{path}: every key already there")


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


dlq_app = typer.Typer(no_args_is_help=True, help="Dead letters in SB_DLQ: list them, replay them (NATS_URL).")
app.add_typer(dlq_app, name="dlq")


def _with_jetstream(work: Any) -> Any:
    """Run ``work(js)`` against NATS_URL's JetStream and return what it returns."""
    import nats

    async def main() -> Any:
        nc = await nats.connect(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
        try:
            return await work(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(main())


@dlq_app.command("list")
def dlq_list(
    hop: str = typer.Option(None, help="only this hop's letters (ingest, crypto, router, publisher, ...)"),
    start: int = typer.Option(1, "--from", help="first SB_DLQ sequence to show"),
    limit: int = typer.Option(50, help="at most this many letters (up to 1000)"),
) -> None:
    """One line per dead letter (sequence, time, hop, origin, subject, deliveries, size, reason), then the count
    per hop."""
    from xmtp_core.bus import deadletters, subjects

    if hop is not None:
        try:
            subjects.dead_letter(hop)
        except subjects.SubjectError as exc:
            raise typer.BadParameter(str(exc), param_hint="--hop") from None

    async def work(js: Any) -> tuple[list[Any], dict[str, int]]:
        return await deadletters.list_letters(js, hop=hop, start_seq=start, limit=limit), await deadletters.counts(js)

    letters, counts = _with_jetstream(work)
    for letter in letters:
        typer.echo(letter.line())
    total = sum(counts.values())
    typer.echo(f"dead letters: {total}" + "".join(f" {name}={n}" for name, n in sorted(counts.items())))


@dlq_app.command("replay")
def dlq_replay(
    seqs: Annotated[list[int], typer.Argument(help="SB_DLQ sequences (from `dlq list`)")],
    delete: bool = typer.Option(False, help="remove each letter from SB_DLQ once its copy is stored"),
) -> None:
    """Re-publish each letter's payload to its original stream subject under a new message id."""
    from xmtp_core.bus import deadletters

    async def work(js: Any) -> list[tuple[int, str]]:
        return await deadletters.replay_many(js, seqs, delete=delete)

    outcomes = _with_jetstream(work)
    for seq, outcome in outcomes:
        typer.echo(f"{seq}: {outcome}")
    if any(outcome.startswith("refused") for _, outcome in outcomes):
        raise typer.Exit(1)


keys_app = typer.Typer(no_args_is_help=True, help="An agent's keys.")
inbox_app = typer.Typer(no_args_is_help=True, help="The agent's inbox on the XMTP network.")
installations_app = typer.Typer(no_args_is_help=True, help="The agent's installations.")
app.add_typer(keys_app, name="keys")
app.add_typer(inbox_app, name="inbox")
app.add_typer(installations_app, name="installations")


@keys_app.command("gen")
def keys_gen(
    env_file: str = typer.Option(".env", help="the file to write (0600)"),
    force: bool = typer.Option(False, help="replace keys already in the file"),
) -> None:
    """Write a fresh XMTP_WALLET_KEY and XMTP_DB_ENCRYPTION_KEY to `.env` (the Agent SDK's gen:keys)."""
    from xmtp_core.identity.signatures import address_from_private_key

    from switchboard.keys import KeyToolError, generate_env

    try:
        keys = generate_env(Path(env_file), force=force)
    except KeyToolError as exc:
        raise typer.BadParameter(str(exc)) from None
    address = address_from_private_key(bytes.fromhex(keys["XMTP_WALLET_KEY"][2:])).address
    typer.echo(f"wrote {env_file}; agent address: {address}")


def _wallet_and_node(env_file: str) -> tuple[Any, Any, dict[str, str]]:
    from xmtp_core.identity.signer import LocalWalletSigner
    from xmtp_core.node import NodeClient
    from xmtp_core.node.settings import resolve_api_url

    from switchboard.keys import environment

    env = environment(Path(env_file))
    node = NodeClient.for_url(resolve_api_url(env.get("XMTP_ENV") or None, env.get("XMTP_API_URL") or None))
    return LocalWalletSigner.from_env(env), node, env


@inbox_app.command("info")
def inbox_info_command(env_file: str = typer.Option(".env", help="keys not in the environment are read here")) -> None:
    """The agent's inbox id, address and installations with their creation times (XMTP_ENV / XMTP_API_URL)."""
    from datetime import UTC, datetime

    from switchboard.keys import KeyToolError, inbox_info, limit_warning

    async def show() -> None:
        wallet, node, _ = _wallet_and_node(env_file)
        try:
            info = await inbox_info(node, wallet)
        except KeyToolError as exc:
            raise typer.BadParameter(str(exc)) from None
        finally:
            await node.close()
        typer.echo(f"inbox id: {info.inbox_id}\naddress: {info.address}\ninstallations: {len(info.installations)}")
        for i in info.installations:
            when = datetime.fromtimestamp(i.created_ns / 1e9, UTC).isoformat() if i.created_ns else "-"
            typer.echo(f"  {i.id}  created {when}")
        if (warning := limit_warning(info)) is not None:
            typer.echo(warning)

    asyncio.run(show())


@installations_app.command("revoke")
def installations_revoke(
    ids: Annotated[
        list[str] | None, typer.Argument(help="installation ids (hex) to revoke; none: all but the current one")
    ] = None,
    current: str | None = typer.Option(None, help="the installation to keep (default: the agent's, from NATS)"),
    agent: str = typer.Option("echo", help="the agent whose registered installation is current"),
    env_file: str = typer.Option(".env", help="keys not in the environment are read here"),
) -> None:
    """Revoke installations of the agent's inbox: the ones named, or all but the current one."""
    from switchboard.keys import KeyToolError, current_installation, revoke

    async def run_revoke() -> None:
        wallet, node, env = _wallet_and_node(env_file)
        try:
            keep = current
            if not ids and keep is None:
                if not env.get("NATS_URL"):
                    raise KeyToolError("give --current, or NATS_URL to read the agent's installation")
                keep = await current_installation(env["NATS_URL"], agent)
            revoked = await revoke(node, wallet, keep=keep, ids=ids or None)
        except KeyToolError as exc:
            raise typer.BadParameter(str(exc)) from None
        finally:
            await node.close()
        typer.echo(f"revoked {len(revoked)} installation(s)")
        for i in revoked:
            typer.echo(f"  {i}")

    asyncio.run(run_revoke())


@app.command("test-url")
def test_url(env_file: str = typer.Option(".env", help="keys not in the environment are read here")) -> None:
    """Where to chat with the agent in a browser (xmtp.chat, for XMTP_ENV)."""
    from router.utils import get_test_url
    from xmtp_core.identity.signer import LocalWalletSigner

    from switchboard.keys import environment

    env = environment(Path(env_file))
    typer.echo(get_test_url(LocalWalletSigner.from_env(env).identifier.address, env.get("XMTP_ENV") or "dev"))


if __name__ == "__main__":
    app()
