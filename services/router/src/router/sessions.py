"""Wizard sessions: where an `ActionWizard` keeps each user's progress, in a router-owned Postgres table so a
flow survives a router restart and goes on in whichever replica gets the user's next message.

Table `router_wizard_sessions`, one row per (agent, wizard, conversation, inbox): the step reached and, sealed
with AES-256-GCM, the answers so far and the last event that moved it (answers are message plaintext: it is
not kept in clear at rest, as nothing of a conversation is in the crypto store). The row's key is the AEAD's
associated data, so a sealed state copied onto another user's row does not open. The key comes from
`SB_ROUTER_STATE_KEY`, else is derived from `XMTP_DB_ENCRYPTION_KEY` (HKDF, its own label); without either
the store refuses to start. The router owns this table alone: it never touches the crypto store."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from router.pg import AgentTable

TABLE = "router_wizard_sessions"
TTL_S = 7 * 24 * 3600.0  # a flow left untouched this long is over (rows are purged, never read again)
PURGE_EVERY = 1000  # puts between purges of expired rows
MAX_STATE_BYTES = 256 * 1024  # answers are capped per step (`wizard.MAX_ANSWER`); this bounds a row
_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    agent text NOT NULL,
    wizard text NOT NULL,
    conversation_id text NOT NULL,
    inbox_id text NOT NULL,
    step integer NOT NULL,
    state bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent, wizard, conversation_id, inbox_id)
)"""


class SessionError(Exception):
    """The session store cannot be used (no key, a row that does not open)."""


@dataclass
class Session:
    """One user's progress through one wizard in one conversation."""

    wizard: str
    conversation_id: str
    inbox_id: str
    step: int = 0
    answers: dict[str, str] = field(default_factory=dict)
    last_event_id: str = ""

    def __repr__(self) -> str:  # answers are message plaintext
        return f"Session({self.wizard}, {self.conversation_id}, step={self.step}, answers=<hidden>)"


class SessionStore(Protocol):
    async def get(self, wizard: str, conversation_id: str, inbox_id: str) -> Session | None: ...

    async def put(self, session: Session) -> None: ...

    async def delete(self, wizard: str, conversation_id: str, inbox_id: str) -> None: ...


class MemorySessions:
    """Sessions in this process only (tests, a single router in development)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, str], Session] = {}

    async def get(self, wizard: str, conversation_id: str, inbox_id: str) -> Session | None:
        found = self._rows.get((wizard, conversation_id, inbox_id))
        return None if found is None else Session(**{**found.__dict__, "answers": dict(found.answers)})

    async def put(self, session: Session) -> None:
        key = (session.wizard, session.conversation_id, session.inbox_id)
        self._rows[key] = Session(**{**session.__dict__, "answers": dict(session.answers)})

    async def delete(self, wizard: str, conversation_id: str, inbox_id: str) -> None:
        self._rows.pop((wizard, conversation_id, inbox_id), None)


def state_key_from_env(env: dict[str, str] | None = None) -> bytes:
    """The sessions' AES key: `SB_ROUTER_STATE_KEY` (64 hex), else HKDF of `XMTP_DB_ENCRYPTION_KEY`."""
    env = dict(os.environ) if env is None else env
    own = env.get("SB_ROUTER_STATE_KEY", "").removeprefix("0x")
    if own:
        key = _hex(own, "SB_ROUTER_STATE_KEY")
        if len(key) != 32:
            raise SessionError("SB_ROUTER_STATE_KEY must be 32 bytes of hex")
        return key
    db_key = env.get("XMTP_DB_ENCRYPTION_KEY", "").removeprefix("0x")
    if not db_key:
        raise SessionError("wizard sessions need SB_ROUTER_STATE_KEY or XMTP_DB_ENCRYPTION_KEY")
    material = _hex(db_key, "XMTP_DB_ENCRYPTION_KEY")
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"switchboard router wizard sessions v1").derive(material)


def _hex(value: str, name: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise SessionError(f"{name} is not hex") from None


class PostgresSessions(AgentTable):
    """Sessions in `router_wizard_sessions` (created on first use), states sealed under ``key``."""

    def __init__(self, database_url: str, key: bytes, agent: str, *, ttl_s: float = TTL_S) -> None:
        if len(key) != 32:
            raise SessionError("the state key is 32 bytes")
        super().__init__(database_url, agent, TABLE, _DDL, ttl_s)
        self._aead = AESGCM(key)
        self._puts = 0

    @classmethod
    def from_env(cls, agent: str) -> PostgresSessions:
        url = os.environ.get("DATABASE_URL", "")
        if not url:
            raise SessionError("wizard sessions need DATABASE_URL")
        return cls(url, state_key_from_env(), agent)

    def _aad(self, wizard: str, conversation_id: str, inbox_id: str) -> bytes:
        return json.dumps([self._agent, wizard, conversation_id, inbox_id]).encode()

    async def get(self, wizard: str, conversation_id: str, inbox_id: str) -> Session | None:
        pool = await self._db()
        row = await pool.fetchrow(
            f"SELECT step, state FROM {TABLE} WHERE agent=$1 AND wizard=$2 AND conversation_id=$3 AND inbox_id=$4"
            " AND updated_at >= now() - make_interval(secs => $5)",
            self._agent, wizard, conversation_id, inbox_id, self._ttl_s,
        )  # fmt: skip
        if row is None:
            return None
        state = bytes(row["state"])
        if len(state) > MAX_STATE_BYTES + 28:
            raise SessionError("a session row over the size cap")
        try:
            plain = self._aead.decrypt(state[:12], state[12:], self._aad(wizard, conversation_id, inbox_id))
        except InvalidTag:
            raise SessionError("a session row does not open under this key") from None
        body = json.loads(plain)
        return Session(wizard, conversation_id, inbox_id, row["step"], body["answers"], body["last_event_id"])

    async def put(self, session: Session) -> None:
        plain = json.dumps({"answers": session.answers, "last_event_id": session.last_event_id}).encode()
        if len(plain) > MAX_STATE_BYTES:
            raise SessionError("a session over the size cap")
        nonce = secrets.token_bytes(12)
        aad = self._aad(session.wizard, session.conversation_id, session.inbox_id)
        sealed = nonce + self._aead.encrypt(nonce, plain, aad)
        pool = await self._db()
        self._puts += 1
        if self._puts % PURGE_EVERY == 0:
            await self.purge()
        await pool.execute(
            f"INSERT INTO {TABLE} (agent, wizard, conversation_id, inbox_id, step, state) VALUES ($1,$2,$3,$4,$5,$6)"
            " ON CONFLICT (agent, wizard, conversation_id, inbox_id)"
            " DO UPDATE SET step = EXCLUDED.step, state = EXCLUDED.state, updated_at = now()",
            self._agent, session.wizard, session.conversation_id, session.inbox_id, session.step, sealed,
        )  # fmt: skip

    async def delete(self, wizard: str, conversation_id: str, inbox_id: str) -> None:
        pool = await self._db()
        await pool.execute(
            f"DELETE FROM {TABLE} WHERE agent=$1 AND wizard=$2 AND conversation_id=$3 AND inbox_id=$4",
            self._agent, wizard, conversation_id, inbox_id,
        )  # fmt: skip
