"""Each agent of a deployment: its name, wallet, database, and the `Runtime` of its one installation.

An agent's state lives in its own Postgres database (`<database>_<agent>`, created when missing), so agents
never share MLS state or keys. The first crypto replica to start registers the installation (the wallet key
from `XMTP_WALLET_KEY_<AGENT>`, or `XMTP_WALLET_KEY` for a single agent); the others wait on an advisory lock
and open the same one, so a deployment never makes two installations of one agent by racing."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]
from xmtp_core.bus import subjects
from xmtp_core.engine import ConversationKind
from xmtp_core.identity import LocalWalletSigner
from xmtp_core.identity.errors import SignerConfigurationError
from xmtp_core.node import NodeClient
from xmtp_core.pg_url import plain_pg_url
from xmtp_core.runtime import Runtime
from xmtp_core.runtime.core import EnvelopeSender
from xmtp_core.runtime.installation import load_installation
from xmtp_core.store import KeyRing, Store

_REGISTER_LOCK = 0x73625F726567  # "sb_reg": one registration at a time per agent database
_CREATE_LOCK = 0x73625F637265  # "sb_cre": one CREATE DATABASE at a time per server


@dataclass
class Agent:
    name: str
    runtime: Runtime
    address: str

    @property
    def inbox_id(self) -> str:
        return self.runtime.keys.inbox_id

    @property
    def installation_key(self) -> bytes:
        return self.runtime.keys.installation_key

    def __repr__(self) -> str:
        return f"Agent({self.name!r}, inbox_id={self.inbox_id})"


def wallet_for(agent: str, environ: dict[str, str] | None = None) -> LocalWalletSigner:
    env = dict(os.environ if environ is None else environ)
    specific = f"XMTP_WALLET_KEY_{agent.upper().replace('-', '_')}"
    if specific in env:
        env["XMTP_WALLET_KEY"] = env[specific]
    try:
        return LocalWalletSigner.from_env(env)
    except SignerConfigurationError as exc:
        raise SignerConfigurationError(f"agent {agent}: {exc} (or {specific})") from None


def pool_size_per_agent(agents: int, environ: dict[str, str] | None = None) -> int:
    """Connections each agent's store keeps open: `SB_DB_POOL_SIZE`, or 5 shared out over the deployment's
    agents (40 in all, at least 1 each): 100 agents at 5 each held more than Postgres's max_connections."""
    env = os.environ if environ is None else environ
    if env.get("SB_DB_POOL_SIZE"):
        return max(1, int(env["SB_DB_POOL_SIZE"]))
    return max(1, min(5, 40 // max(agents, 1)))


def agent_database_url(database_url: str, agent: str) -> str:
    """The agent's own database on the same server: `<database>_<agent>`."""
    parts = urlsplit(plain_pg_url(database_url))
    base = parts.path.lstrip("/") or "postgres"
    name = f"{base}_{subjects.agent_token(agent).replace('-', '_')}"
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def ensure_database(url: str) -> None:
    """Create the agent's database once, even when several replicas start together (serialised by a lock on
    the server's maintenance database; a racing CREATE fails with a unique violation rather than waiting)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _CREATE_LOCK)
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            with contextlib.suppress(
                asyncpg.exceptions.DuplicateDatabaseError, asyncpg.exceptions.UniqueViolationError
            ):
                await conn.execute(f'CREATE DATABASE "{name}"')  # name is built from a validated agent token
    finally:
        await conn.close()


async def open_agent(
    name: str,
    node: NodeClient,
    database_url: str,
    sender: EnvelopeSender,
    *,
    wallet: LocalWalletSigner | None = None,
    keys: KeyRing | None = None,
    pool_size: int = 5,
) -> Agent:
    """The agent's runtime: its stored installation, or a new one registered now (once per deployment)."""
    url = agent_database_url(database_url, name)
    await ensure_database(url)
    store = await Store.open(url, keys or KeyRing.from_env(), pool_size=pool_size)
    signer = wallet or wallet_for(name)
    lock = await asyncpg.connect(url)
    try:
        await lock.execute("SELECT pg_advisory_lock($1)", _REGISTER_LOCK)
        async with store.transaction() as s:
            known = await store.installations.load_only(s)
        if known is None:
            runtime = await Runtime.register(node, store, signer, sender=sender)
        else:  # resumed by the service once its consumers run (resuming may need the publisher)
            runtime = Runtime(node, store, await load_installation(store), sender=sender)
    finally:
        await lock.close()
    return Agent(name, runtime, signer.identifier.address.lower())


def conversation_kind(kind: ConversationKind) -> str:
    return "dm" if kind is ConversationKind.DM else "group"
