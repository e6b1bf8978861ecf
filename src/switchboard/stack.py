"""The local stack `switchboard run` (`make run`) brings up: NATS and Postgres (private ones when NATS_URL /
DATABASE_URL are unset, with Postgres's data kept in `.run/`), devnode, the four services and an agent.

Keys come from `XMTP_WALLET_KEY` / `XMTP_DB_ENCRYPTION_KEY` when set, else from a git-ignored `.env`, which is
written once with fresh keys; so a restart keeps the same installation. `XMTP_ENV=dev|production` points
ingest, crypto and publisher at XMTP's network (TLS) instead of devnode, which is then not started.

Every service is a child process of its own session; the supervisor stops them all (SIGTERM, then SIGKILL)
however it ends, and exits when any of them dies. A second Ctrl-C / SIGTERM while stopping kills what is left
at once, and every child (servers included) has a parent-death signal, so a SIGKILLed supervisor leaves
nothing behind either."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from switchboard.devservices import DevServices, dev_services, die_with_parent

SERVICES = ("publisher", "crypto", "ingest", "router")
KEY_NAMES = ("XMTP_WALLET_KEY", "XMTP_DB_ENCRYPTION_KEY")
WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"  # the chat page `make web` builds


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.strip().partition("=")
            if sep and not name.startswith("#"):
                values[name.strip()] = value.strip().strip('"')
    return values


def ensure_keys(env_file: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The agent's keys: from the environment, else from ``env_file``, else fresh ones written there (0600)."""
    stored = _read_env_file(env_file)
    keys = {name: environ.get(name) or stored.get(name, "") for name in KEY_NAMES}
    missing = [name for name, value in keys.items() if not value]
    if missing:
        fresh = {"XMTP_WALLET_KEY": "0x" + secrets.token_hex(32), "XMTP_DB_ENCRYPTION_KEY": secrets.token_hex(32)}
        for name in missing:
            keys[name] = fresh[name]
        lines = [f"{k}={v}" for k, v in {**stored, **{n: keys[n] for n in missing}}.items()]
        env_file.write_text(
            "# written by `switchboard run`: the local agent's keys (keep it out of git)\n" + "\n".join(lines) + "\n"
        )
        env_file.chmod(0o600)
    return keys


@dataclass
class Supervisor:
    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def spawn(self, name: str, *args: str) -> None:
        # SIGKILL when the supervisor dies: nobody is left to escalate a graceful stop that hangs (a service
        # whose NATS is gone can sit in its SIGTERM cleanup forever), and every service is crash-safe.
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        argv, preexec = die_with_parent([str(Path(sys.executable).parent / "switchboard"), *args], signal.SIGKILL)
        self.procs[name] = subprocess.Popen(
            argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=preexec
        )

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def serve_chat(root: Path, config: Mapping[str, str], host: str, port: int) -> ThreadingHTTPServer:
    """The built chat page and its `config.json` (where devnode's gRPC-web port and the agent are) on HOST:PORT,
    served from a daemon thread until `shutdown()`."""
    body = json.dumps(dict(config)).encode()

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/config.json":
                return super().do_GET()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the page's requests are not the stack's news."""

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="chat-page", daemon=True).start()
    return server


def _free_or_next(host: str, port: int) -> int:
    """`port` when it can be bound (the browser SDK's default for `local` is the node's port + 1), else any."""
    import socket

    with socket.socket() as sock:
        try:
            sock.bind((host or "127.0.0.1", port))
        except OSError:
            sock.bind((host or "127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _agent_record(nats_url: str, agent: str, timeout: float, sup: Supervisor) -> tuple[str, str]:
    import nats
    from nats.js.errors import BucketNotFoundError, KeyNotFoundError
    from xmtp_core.bus import kv as bus_kv
    from xmtp_core.bus import subjects
    from xmtp_core.bus.schemas import parse

    async def poll() -> tuple[str, str]:
        nc = await nats.connect(nats_url)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if sup.dead():
                    raise RuntimeError(f"{', '.join(sup.dead())} exited: see {sup.logs}")
                with contextlib.suppress(KeyNotFoundError, BucketNotFoundError):
                    entry = await (await nc.jetstream().key_value(subjects.KV_AGENTS)).get(agent)
                    if entry.value:
                        record = parse(bus_kv.AgentRecord, entry.value)
                        return record.address or "", record.inbox_id
                await asyncio.sleep(0.2)
            raise TimeoutError(f"the agent did not start in {timeout:.0f}s: see {sup.logs}")
        finally:
            await nc.close()

    return asyncio.run(poll())


@contextlib.contextmanager
def _stopping_on_signals() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C (the finally blocks stop every child)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}  # _hurry_on_signals sets both
    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _hurry_on_signals(sup: Supervisor, svc: DevServices) -> None:
    """From now on a Ctrl-C / SIGTERM SIGKILLs every child instead of interrupting the orderly stop.

    An exception raised in the middle of stopping (what a second Ctrl-C used to be) skipped the servers still
    to be stopped; this handler raises nothing, so every stop step still runs and finds its process gone."""

    def kill_all(signum: int, frame: object) -> None:
        for proc in [*sup.procs.values(), *svc._procs]:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)

    signal.signal(signal.SIGINT, kill_all)
    signal.signal(signal.SIGTERM, kill_all)


def run_stack(
    listen: str, app: str, agent: str, state_dir: Path, env_file: Path, echo: Callable[[str], None] = print
) -> None:
    """Bring the stack up, print where it is, and keep it up until Ctrl-C / SIGTERM or a child dies."""
    state_dir.mkdir(parents=True, exist_ok=True)
    keys = ensure_keys(env_file, os.environ)
    network = os.environ.get("XMTP_ENV", "local")
    with _stopping_on_signals(), dev_services(state_dir=state_dir) as svc:
        logs = state_dir / "logs"
        logs.mkdir(exist_ok=True)
        host, _, port = listen.rpartition(":")
        node_url = os.environ.get("XMTP_API_URL") or f"http://{host}:{port}"
        env = {
            **os.environ, **keys, "NATS_URL": svc.nats_url, "DATABASE_URL": svc.database_url,
            "XMTP_ENV": network, "SB_AGENTS": agent,
        }  # fmt: skip
        if network == "local":
            env["XMTP_API_URL"] = node_url
        sup = Supervisor(env, logs)
        chat: ThreadingHTTPServer | None = None
        try:
            if network == "local":
                web_port = _free_or_next(host, int(port) + 1)
                sup.spawn(
                    "devnode", "devnode", "--listen", listen, "--database-url", svc.database_url,
                    "--grpc-web-listen", f"{host}:{web_port}",
                )  # fmt: skip
                _wait_port(host, int(port), sup)
            for service in SERVICES:
                sup.spawn(service, service, *(["--app", app] if service == "router" else []))
            address, inbox_id = _agent_record(svc.nats_url, agent, 120, sup)
            echo(f"NATS      {svc.nats_url}")
            echo(f"Postgres  {svc.database_url}")
            echo(f"node: {node_url}")
            echo(f"agent address: {address}")
            if network == "local":
                grpc_web = f"http://{host}:{web_port}"
                echo(f"grpc-web: {grpc_web}")
                if (WEB_DIST / "index.html").exists():
                    config = {"grpcWebUrl": grpc_web, "agentAddress": address}
                    chat = serve_chat(WEB_DIST, config, host, _free_or_next(host, int(port) + 2))
                    echo(f"chat: http://{host}:{chat.server_port}")
                else:
                    echo("chat: not built (make web)")
            echo(f"agent inbox id: {inbox_id}")
            echo(f"logs: {logs}")
            echo("Talk to it from any XMTP client on this node: open a DM with the address above and say 'ping'.")
            echo("Ctrl-C stops everything.")
            while not sup.dead():
                time.sleep(0.5)
            echo(f"stopping: {', '.join(sup.dead())} exited (see {logs})")
        except KeyboardInterrupt:
            echo("stopping")
        finally:
            _hurry_on_signals(sup, svc)  # first: a Ctrl-C in chat.shutdown() skipped every stop after it
            if chat is not None:
                chat.shutdown()
            sup.stop()


def _wait_port(host: str, port: int, sup: Supervisor, timeout: float = 60.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sup.dead():
            raise RuntimeError(f"{', '.join(sup.dead())} exited: see {sup.logs}")
        with contextlib.suppress(OSError), socket.create_connection((host or "127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.1)
    raise TimeoutError(f"devnode did not listen on {host}:{port}")
