"""`once`: a handler's own side effect (a charge, a webhook, a row elsewhere) run once per (agent, event or
message, name), across handler re-runs and router replicas, recorded in a router-owned Postgres table.

Handlers are delivered at least once: a router that dies before acking an event, or a redelivery after the ack
wait, runs the handler again. Its sends are keyed (`router.context`), so they go out once; anything else it does
runs again unless it goes through `await ctx.once("charge", fn)` (or `agent.once(key, fn)` outside events):

1. **Claim before run.** One statement inserts the claim (state `running`, a lease of ``lease_s``) or finds the
   row. Whoever inserted it runs ``fn``; a lease is renewed while ``fn`` runs (every third of it), so a long
   effect is not taken over while its process lives.
2. **Done is recorded with the result.** ``fn``'s return value (a JSON value, sealed at rest) is stored with
   state `done`; every later call for the same key returns it without running ``fn``.
3. **A concurrent caller waits.** A second caller (another replica given the redelivered event) finds a live
   claim and polls until it is done (then returns its result) or its lease lapses (then goes on as 4).
4. **A claim whose process died** (its lease lapsed, no result) is uncertain: ``fn`` may have run in full, in
   part or not at all. By default the next call takes the claim over and runs ``fn`` again (its `Attempt`
   says which attempt it is), so an interrupted effect is **at least once**; give ``fn`` the attempt's stable
   ``key`` as the downstream API's idempotency key (Stripe's `Idempotency-Key`, a unique column) and it is
   exactly once. With ``retry_interrupted=False`` it is **at most once**: the call raises `EffectInterrupted`
   and ``fn`` never runs again for that key.
5. **A failed effect is not recorded.** ``fn`` raising releases the claim (state `free`) and the exception
   propagates into the handler (uncaught, to the agent's error chain; a handler's error is not redelivered): a
   later call for the key, e.g. the handler run again after a crash, tries again, in either mode (the effect
   did not happen, as far as ``fn`` told). A store that cannot be reached raises before ``fn`` runs.
   `Attempt.number` counts every claim of the key, released and lapsed ones included.

Rows are keyed by an HMAC of (agent, scope, name) under a key derived from the router's state key
(`router.sessions.state_key_from_env`), so the table shows no conversation or message ids; results are sealed
with AES-256-GCM, the row key as associated data. Done rows are kept 30 days (past SB_EV's 7 days and the
dead-letter replay horizon), then purged. Without DATABASE_URL the store is in memory: one process only."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import inspect
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from router.pg import AgentTable
from router.sessions import state_key_from_env

log = logging.getLogger(__name__)

TABLE = "router_effects"
LEASE_S = 30.0  # how long a claim outlives its process; renewed while the effect runs
TTL_S = 30 * 24 * 3600.0
PURGE_EVERY = 1000  # claims between purges of old rows
MAX_RESULT_BYTES = 64 * 1024
POLL_S = (0.05, 1.0)  # a waiting caller's first and longest poll interval
_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bytea PRIMARY KEY,
    agent text NOT NULL,
    state text NOT NULL CHECK (state IN ('running', 'done', 'free')),
    owner text NOT NULL,
    attempts integer NOT NULL,
    lease_until timestamptz NOT NULL,
    result bytea,
    updated_at timestamptz NOT NULL DEFAULT now()
)"""


class EffectError(Exception):
    """The effect store cannot be used (no key, a result that does not open or is not a JSON value)."""


class EffectInterrupted(Exception):
    """An at-most-once effect (`retry_interrupted=False`) was claimed by a process that died before recording
    it: it may or may not have happened, and it is not run again."""

    def __init__(self, name: str, attempts: int) -> None:
        super().__init__(f"effect {name!r} was interrupted after {attempts} attempt(s); not run again")
        self.name = name
        self.attempts = attempts


@dataclass(frozen=True)
class Attempt:
    """What an effect may take as its one argument: ``key`` is stable for the (agent, scope, name) across
    attempts (hand it to the downstream API as its idempotency key); ``number`` counts from 1."""

    key: str
    number: int


@dataclass(frozen=True)
class Claimed:
    owner: str
    attempts: int


@dataclass(frozen=True)
class Found:
    """The row as it is: done (with its sealed result), or running with a live or lapsed lease."""

    state: Literal["done", "running"]
    attempts: int
    live: bool
    result: bytes | None = None


class EffectRows(Protocol):
    """Where claims live (Postgres across replicas, memory in one process); ``row`` is the HMAC row key."""

    async def claim(self, row: bytes, owner: str, lease_s: float, *, take_over: bool) -> Claimed | Found: ...

    async def renew(self, row: bytes, owner: str, lease_s: float) -> bool: ...

    async def finish(self, row: bytes, owner: str, result: bytes) -> bool: ...

    async def release(self, row: bytes, owner: str) -> None: ...


class Effects:
    """`once` over an `EffectRows`, with the keys that name and seal rows."""

    def __init__(self, rows: EffectRows, key: bytes, agent: str) -> None:
        if len(key) != 32:
            raise EffectError("the state key is 32 bytes")
        self.rows = rows
        self._agent = agent
        self._index_key = _derive(key, b"switchboard router effects index v1")
        self._aead = AESGCM(_derive(key, b"switchboard router effects results v1"))

    def row_key(self, scope: str, name: str) -> bytes:
        return hmac.new(self._index_key, json.dumps([self._agent, scope, name]).encode(), hashlib.sha256).digest()

    async def once(
        self,
        scope: str,
        name: str,
        fn: Callable[..., Awaitable[Any]],
        *,
        lease_s: float = LEASE_S,
        retry_interrupted: bool = True,
    ) -> Any:
        """Run ``fn`` unless it ran for (scope, name) before; return its result (see the module docstring)."""
        row = self.row_key(scope, name)
        owner = secrets.token_hex(16)
        poll = POLL_S[0]
        while True:
            got = await self.rows.claim(row, owner, lease_s, take_over=retry_interrupted)
            if isinstance(got, Claimed):
                return await self._run(row, got, name, fn, lease_s)
            if got.state == "done":
                return self._open(row, got.result)
            if not got.live:  # lapsed, and take-over is off
                raise EffectInterrupted(name, got.attempts)
            await asyncio.sleep(poll)  # another caller holds a live claim: wait for its outcome
            poll = min(poll * 2, POLL_S[1])

    async def _run(
        self, row: bytes, claim: Claimed, name: str, fn: Callable[..., Awaitable[Any]], lease_s: float
    ) -> Any:
        attempt = Attempt("e-" + row.hex()[:40], claim.attempts)
        renewing = asyncio.create_task(self._renew(row, claim.owner, lease_s))
        try:
            result = await (fn(attempt) if _takes_attempt(fn) else fn())
        except BaseException:
            renewing.cancel()
            with contextlib.suppress(Exception):  # a lapsed lease frees it as well
                await asyncio.shield(self.rows.release(row, claim.owner))
            raise
        renewing.cancel()
        sealed, problem = self._seal(row, result)
        if not await self.rows.finish(row, claim.owner, sealed):
            log.warning("effect %r: its claim lapsed while it ran; another attempt may have run it too", name)
        if problem is not None:
            raise problem
        return result

    async def _renew(self, row: bytes, owner: str, lease_s: float) -> None:
        while True:
            await asyncio.sleep(lease_s / 3)
            try:
                if not await self.rows.renew(row, owner, lease_s):
                    return  # taken over (this process stalled past its lease): nothing left to renew
            except Exception as exc:  # a database blip: the next renewal may succeed
                log.warning("effect lease not renewed: %s", type(exc).__name__)

    def _seal(self, row: bytes, result: Any) -> tuple[bytes, EffectError | None]:
        """The sealed JSON of ``result``; a value that is no JSON value (or too big) is recorded as null, and
        the error is raised after the effect is recorded done (it ran: it must not run again)."""
        problem: EffectError | None = None
        try:
            plain = json.dumps(result).encode()
        except (TypeError, ValueError):
            plain, problem = b"null", EffectError("once() effects return a JSON value (or None)")
        if len(plain) > MAX_RESULT_BYTES:
            plain, problem = b"null", EffectError(f"once() results are capped at {MAX_RESULT_BYTES} bytes")
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plain, row), problem

    def _open(self, row: bytes, sealed: bytes | None) -> Any:
        if sealed is None:
            return None
        try:
            return json.loads(self._aead.decrypt(sealed[:12], sealed[12:], row))
        except InvalidTag:
            raise EffectError("an effect's result does not open under this key") from None


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(hashes.SHA256(), 32, salt=None, info=info).derive(key)


def _takes_attempt(fn: Callable[..., Any]) -> bool:
    try:
        return len(inspect.signature(fn).parameters) >= 1
    except (TypeError, ValueError):
        return False


@dataclass
class _Row:
    state: Literal["done", "running", "free"]
    owner: str
    attempts: int
    lease_until: float
    result: bytes | None = None


class MemoryEffectRows:
    """Claims in this process only (tests, a single router in development); ``clock`` is monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._rows: dict[bytes, _Row] = {}
        self._clock = clock

    async def claim(self, row: bytes, owner: str, lease_s: float, *, take_over: bool) -> Claimed | Found:
        now, found = self._clock(), self._rows.get(row)
        lapsed = found is not None and found.state == "running" and found.lease_until < now
        if found is None or found.state == "free" or (lapsed and take_over):
            attempts = 1 if found is None else found.attempts + 1
            self._rows[row] = _Row("running", owner, attempts, now + lease_s)
            return Claimed(owner, attempts)
        return Found(found.state, found.attempts, found.lease_until >= now, found.result)

    async def renew(self, row: bytes, owner: str, lease_s: float) -> bool:
        found = self._rows.get(row)
        if found is None or found.owner != owner or found.state != "running":
            return False
        found.lease_until = self._clock() + lease_s
        return True

    async def finish(self, row: bytes, owner: str, result: bytes) -> bool:
        found = self._rows.get(row)
        mine = found is not None and found.owner == owner
        attempts = found.attempts if found is not None else 1
        self._rows[row] = _Row("done", owner, attempts, self._clock(), result)  # it ran: record it whoever holds it
        return mine

    async def release(self, row: bytes, owner: str) -> None:
        found = self._rows.get(row)
        if found is not None and found.owner == owner and found.state == "running":
            found.state = "free"  # the next call claims it (an at-most-once effect too: it did not happen)


class PostgresEffectRows(AgentTable):
    """Claims in `router_effects` (created on first use)."""

    def __init__(self, database_url: str, agent: str, *, ttl_s: float = TTL_S) -> None:
        super().__init__(database_url, agent, TABLE, _DDL, ttl_s)
        self._claims = 0

    async def claim(self, row: bytes, owner: str, lease_s: float, *, take_over: bool) -> Claimed | Found:
        pool = await self._db()
        self._claims += 1
        if self._claims % PURGE_EVERY == 0:
            await self.purge()
        # One statement: a new row is ours; an existing one when released (its effect failed), or when its
        # claim lapsed (its process died) and take-over is allowed.
        attempts = await pool.fetchval(
            f"INSERT INTO {TABLE} (id, agent, state, owner, attempts, lease_until)"
            " VALUES ($1, $2, 'running', $3, 1, now() + make_interval(secs => $4))"
            f" ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner, attempts = {TABLE}.attempts + 1,"
            " lease_until = EXCLUDED.lease_until, updated_at = now()"
            f" WHERE {TABLE}.state = 'free' OR ({TABLE}.state = 'running' AND {TABLE}.lease_until < now() AND $5)"
            " RETURNING attempts",
            row, self._agent, owner, lease_s, take_over,
        )  # fmt: skip
        if attempts is not None:
            return Claimed(owner, attempts)
        found = await pool.fetchrow(
            f"SELECT state, attempts, lease_until >= now() AS live, result FROM {TABLE} WHERE id=$1", row
        )
        if found is None:  # purged between the two statements: claim again
            return await self.claim(row, owner, lease_s, take_over=take_over)
        result = None if found["result"] is None else bytes(found["result"])
        return Found(found["state"], found["attempts"], found["live"], result)

    async def renew(self, row: bytes, owner: str, lease_s: float) -> bool:
        pool = await self._db()
        status = await pool.execute(
            f"UPDATE {TABLE} SET lease_until = now() + make_interval(secs => $3), updated_at = now()"
            " WHERE id=$1 AND owner=$2 AND state='running'",
            row, owner, lease_s,
        )  # fmt: skip
        return bool(status.endswith(" 1"))

    async def finish(self, row: bytes, owner: str, result: bytes) -> bool:
        """Record done; True when the claim was still ours (else another attempt may have run it too)."""
        pool = await self._db()
        async with pool.acquire() as conn, conn.transaction():
            was = await conn.fetchval(f"SELECT owner FROM {TABLE} WHERE id=$1 FOR UPDATE", row)
            await conn.execute(
                f"INSERT INTO {TABLE} (id, agent, state, owner, attempts, lease_until, result)"
                " VALUES ($1, $2, 'done', $3, 1, now(), $4)"
                f" ON CONFLICT (id) DO UPDATE SET state='done', result=EXCLUDED.result, lease_until=now(),"
                " updated_at=now()",
                row, self._agent, owner, result,
            )  # fmt: skip
        return bool(was == owner)

    async def release(self, row: bytes, owner: str) -> None:
        pool = await self._db()
        await pool.execute(
            f"UPDATE {TABLE} SET state = 'free', updated_at = now()"
            " WHERE id=$1 AND owner=$2 AND state='running'",
            row, owner,
        )  # fmt: skip


def effects_from_env(agent: str, env: dict[str, str] | None = None) -> Effects:
    """Postgres when DATABASE_URL is set, else memory; keyed by the router's state key (or a random one for
    memory, which lives as long as its rows)."""
    env = dict(os.environ) if env is None else env
    url = env.get("DATABASE_URL", "")
    if not url:
        return Effects(MemoryEffectRows(), secrets.token_bytes(32), agent)
    try:
        key = state_key_from_env(env)
    except Exception as exc:
        raise EffectError(f"once() needs the router's state key: {exc}") from None
    return Effects(PostgresEffectRows(url, agent), key, agent)
