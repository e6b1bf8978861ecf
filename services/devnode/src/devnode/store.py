"""All SQL devnode runs: inserts that keep serial ids in commit order, cursor queries, upserts.

Serial-id ordering: every insert into group_messages / welcome_messages / inbox_log / commit_log takes a
per-table transaction-scoped advisory lock before drawing ids, as xmtp-node-go does. Ids are therefore
drawn and committed in the same order, so a reader who has seen id N can never later see a new id < N.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from devnode import schema
from devnode.broker import RowT
from devnode.errors import InvalidInput
from devnode.models import (
    AcceptedUpdate,
    AddressChange,
    CommitLogRow,
    GroupMessageRow,
    IdentityLogEntry,
    InboxSnapshot,
    InstallationStanding,
    NewCommitLogEntry,
    NewGroupMessage,
    NewWelcome,
    Paging,
    WelcomeKind,
    WelcomeRow,
)

MAX_REPLAY_PAGE_BYTES = 16 * 1024 * 1024
_LOCK_GROUP_MESSAGES = 0x64657601
_LOCK_WELCOMES = 0x64657602
_LOCK_INBOX_LOG = 0x64657603
_LOCK_COMMIT_LOG = 0x64657604
_INBOX_LOCK_NAMESPACE = 0x6465


def _hash(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


async def _lock(conn: AsyncConnection, key: int) -> None:
    await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _group_row(r: sa.Row[tuple[object, ...]]) -> GroupMessageRow:
    m = r._mapping
    return GroupMessageRow(
        id=m["id"],
        created_ns=m["created_ns"],
        group_id=m["group_id"],
        data=m["data"],
        sender_hmac=m["sender_hmac"],
        should_push=m["should_push"],
        is_commit=m["is_commit"],
    )


def _welcome_row(r: sa.Row[tuple[object, ...]]) -> WelcomeRow:
    m = r._mapping
    return WelcomeRow(
        id=m["id"],
        created_ns=m["created_ns"],
        installation_key=m["installation_key"],
        kind=WelcomeKind(m["message_type"]),
        data=m["data"],
        hpke_public_key=m["hpke_public_key"],
        wrapper_algorithm=m["wrapper_algorithm"],
        welcome_metadata=m["welcome_metadata"],
    )


_GM = schema.group_messages
_WM = schema.welcome_messages
_GM_COLS = [
    _GM.c.id,
    _GM.c.created_ns,
    _GM.c.group_id,
    _GM.c.data,
    _GM.c.sender_hmac,
    _GM.c.should_push,
    _GM.c.is_commit,
]
_WM_COLS = [
    _WM.c.id,
    _WM.c.created_ns,
    _WM.c.installation_key,
    _WM.c.message_type,
    _WM.c.data,
    _WM.c.hpke_public_key,
    _WM.c.wrapper_algorithm,
    _WM.c.welcome_metadata,
]


def _paged(
    query: sa.Select[tuple[object, ...]], id_col: sa.ColumnElement[int], paging: Paging
) -> sa.Select[tuple[object, ...]]:
    if paging.ascending:
        if paging.cursor:
            query = query.where(id_col > paging.cursor)
        return query.order_by(id_col.asc()).limit(paging.limit)
    if paging.cursor:
        query = query.where(id_col < paging.cursor)
    return query.order_by(id_col.desc()).limit(paging.limit)


def _replay_query(table: sa.Table, topic_col: str, cols: Sequence[sa.Column[Any]]) -> sa.TextClause:
    """One query for any number of (topic, cursor) filters, joined against the unnested filter arrays.

    The page is cut once it holds MAX_REPLAY_PAGE_BYTES of payload (always at least one row), so a run of
    multi-megabyte messages cannot balloon the stream's memory.
    """
    names = ", ".join(c.key for c in cols)
    inner = ", ".join(f"t.{c.key}" for c in cols)
    return sa.text(
        f"SELECT {names} FROM ("
        f"  SELECT *, sum(length(data)) OVER (ORDER BY id) AS running FROM ("
        f"    SELECT {inner} FROM {table.name} t"
        f"    JOIN unnest(:topics, :cursors) AS f(topic, cursor) ON t.{topic_col} = f.topic AND t.id > f.cursor"
        "     ORDER BY t.id ASC LIMIT :lim"
        "  ) page"
        ") sized WHERE running - length(data) < :max_bytes ORDER BY id ASC"
    ).bindparams(
        sa.bindparam("topics", type_=pg.ARRAY(sa.LargeBinary)),
        sa.bindparam("cursors", type_=pg.ARRAY(sa.BigInteger)),
        sa.bindparam("max_bytes", type_=sa.BigInteger),
    )


_GROUP_REPLAY = _replay_query(_GM, "group_id", _GM_COLS)
_WELCOME_REPLAY = _replay_query(_WM, "installation_key", _WM_COLS)


class Store:
    """Async access to devnode's Postgres state; one instance per node, sharing the engine's pool."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def _insert_new(
        self,
        table: sa.Table,
        cols: Sequence[sa.Column[Any]],
        lock: int,
        values: list[dict[str, Any]],
        to_row: Callable[[sa.Row[tuple[object, ...]]], RowT],
    ) -> list[RowT]:
        """Insert under the table's id-order lock, skipping rows whose message_hash exists; new rows by id."""
        stmt = pg.insert(table).values(values).on_conflict_do_nothing(index_elements=["message_hash"]).returning(*cols)
        async with self.engine.begin() as conn:
            await _lock(conn, lock)
            rows = (await conn.execute(stmt)).all()
        return sorted(map(to_row, rows), key=lambda r: r.id)

    async def _replay(
        self,
        query: sa.TextClause,
        to_row: Callable[[sa.Row[tuple[object, ...]]], RowT],
        cursors: dict[bytes, int],
        limit: int,
        max_bytes: int,
    ) -> list[RowT]:
        if not cursors:
            return []
        params = {"topics": list(cursors), "cursors": list(cursors.values()), "lim": limit, "max_bytes": max_bytes}
        async with self.engine.connect() as conn:
            return [to_row(r) for r in (await conn.execute(query, params)).all()]

    # --- group messages -------------------------------------------------------------------------

    async def insert_group_messages(self, messages: Sequence[NewGroupMessage]) -> list[GroupMessageRow]:
        """Insert in one transaction; returns only the rows that were new (duplicates skipped), by id."""
        now = time.time_ns()
        values = [
            {
                "created_ns": now,
                "group_id": m.group_id,
                "data": m.data,
                "sender_hmac": m.sender_hmac,
                "should_push": m.should_push,
                "is_commit": m.is_commit,
                "message_hash": _hash(m.group_id, m.data),
            }
            for m in messages
        ]
        return await self._insert_new(_GM, _GM_COLS, _LOCK_GROUP_MESSAGES, values, _group_row)

    async def query_group_messages(self, group_id: bytes, paging: Paging) -> list[GroupMessageRow]:
        query = _paged(sa.select(*_GM_COLS).where(_GM.c.group_id == group_id), _GM.c.id, paging)
        async with self.engine.connect() as conn:
            return [_group_row(r) for r in (await conn.execute(query)).all()]

    async def replay_group_messages(
        self, cursors: dict[bytes, int], limit: int, max_bytes: int = MAX_REPLAY_PAGE_BYTES
    ) -> list[GroupMessageRow]:
        """Messages of any of the groups with id above that group's cursor, ascending by id."""
        return await self._replay(_GROUP_REPLAY, _group_row, cursors, limit, max_bytes)

    async def newest_group_messages(
        self, group_ids: Sequence[bytes], *, include_content: bool, max_bytes: int
    ) -> dict[bytes, GroupMessageRow]:
        """The newest message of each group (data and sender_hmac empty unless `include_content`).

        With content, the payloads together may not exceed `max_bytes` (`InvalidInput` otherwise); the sum is
        taken in the query, so the payloads of a refused request never leave the database.
        """
        if not group_ids:
            return {}
        newest = (
            sa.select(*_GM_COLS)
            .where(_GM.c.group_id.in_(set(group_ids)))
            .ext(pg.distinct_on(_GM.c.group_id))
            .order_by(_GM.c.group_id, _GM.c.id.desc())
            .subquery()
        )
        data: sa.ColumnElement[bytes]
        hmac: sa.ColumnElement[bytes]
        if include_content:
            total = sa.func.sum(sa.func.length(newest.c.data) + sa.func.length(newest.c.sender_hmac)).over()
            fits = total <= max_bytes
            data = sa.case((fits, newest.c.data), else_=sa.null())
            hmac = sa.case((fits, newest.c.sender_hmac), else_=sa.null())
        else:
            data = hmac = sa.literal(b"", sa.LargeBinary)
        query: sa.Select[tuple[object, ...]] = sa.select(
            newest.c.id,
            newest.c.created_ns,
            newest.c.group_id,
            data.label("data"),
            hmac.label("sender_hmac"),
            newest.c.should_push,
            newest.c.is_commit,
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if any(r.data is None for r in rows):
            raise InvalidInput(f"the newest messages of these groups exceed {max_bytes} bytes; ask for fewer groups")
        return {row.group_id: row for row in map(_group_row, rows)}

    # --- welcomes -------------------------------------------------------------------------------

    async def insert_welcomes(self, welcomes: Sequence[NewWelcome]) -> list[WelcomeRow]:
        now = time.time_ns()
        values = [
            {
                "created_ns": now,
                "installation_key": w.installation_key,
                "message_type": int(w.kind),
                "data": w.data,
                "hpke_public_key": w.hpke_public_key,
                "wrapper_algorithm": w.wrapper_algorithm,
                "welcome_metadata": w.welcome_metadata,
                "message_hash": _hash(w.installation_key, w.data),
            }
            for w in welcomes
        ]
        return await self._insert_new(_WM, _WM_COLS, _LOCK_WELCOMES, values, _welcome_row)

    async def query_welcomes(self, installation_key: bytes, paging: Paging) -> list[WelcomeRow]:
        query = _paged(sa.select(*_WM_COLS).where(_WM.c.installation_key == installation_key), _WM.c.id, paging)
        async with self.engine.connect() as conn:
            return [_welcome_row(r) for r in (await conn.execute(query)).all()]

    async def replay_welcomes(
        self, cursors: dict[bytes, int], limit: int, max_bytes: int = MAX_REPLAY_PAGE_BYTES
    ) -> list[WelcomeRow]:
        return await self._replay(_WELCOME_REPLAY, _welcome_row, cursors, limit, max_bytes)

    # --- key packages ---------------------------------------------------------------------------

    async def upsert_key_package(
        self,
        installation_key: bytes,
        key_package: bytes,
        credential_identity: bytes,
        not_after: int,
        *,
        inbox_id: str,
        check: Callable[[InstallationStanding], None],
    ) -> None:
        """Store the installation's current key package (for the credential's `inbox_id`), replacing any older one.

        `check` learns where the installation stands in that inbox, under the inbox's lock (so an upload cannot
        race a PublishIdentityUpdate that revokes the installation), and raises to refuse.
        """
        now = time.time_ns()
        kp = schema.key_packages
        stmt = pg.insert(kp).values(
            installation_key=installation_key,
            key_package=key_package,
            credential_identity=credential_identity,
            not_after=not_after,
            created_ns=now,
            updated_ns=now,
            inbox_id=inbox_id,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["installation_key"],
            set_={
                "key_package": stmt.excluded.key_package,
                "credential_identity": stmt.excluded.credential_identity,
                "not_after": stmt.excluded.not_after,
                "updated_ns": stmt.excluded.updated_ns,
                "inbox_id": stmt.excluded.inbox_id,
            },
        )
        async with self.engine.begin() as conn:
            await _lock_inbox(conn, inbox_id)
            check(await _installation_standing(conn, inbox_id, installation_key))
            await conn.execute(stmt)

    async def fetch_key_packages(self, installation_keys: Sequence[bytes]) -> dict[bytes, bytes]:
        """The stored key packages that may be handed out: the installation is a current member of the inbox
        its credential names, or that inbox has no identity log yet (nothing to contradict the claim)."""
        if not installation_keys:
            return {}
        kp, members, log = schema.key_packages, schema.inbox_installations, schema.inbox_log
        is_member = sa.exists().where(
            members.c.installation_key == kp.c.installation_key,
            members.c.inbox_id == kp.c.inbox_id,
            members.c.revocation_sequence_id.is_(None),
        )
        inbox_unknown = ~sa.exists().where(log.c.inbox_id == kp.c.inbox_id)
        query = sa.select(kp.c.installation_key, kp.c.key_package).where(
            kp.c.installation_key.in_(set(installation_keys)),
            kp.c.inbox_id.is_not(None),
            sa.or_(is_member, inbox_unknown),
        )
        async with self.engine.connect() as conn:
            return {r.installation_key: r.key_package for r in (await conn.execute(query)).all()}

    # --- identity -------------------------------------------------------------------------------

    async def append_identity_update(
        self,
        inbox_id: str,
        update: bytes,
        validate: Callable[[InboxSnapshot], AcceptedUpdate],
    ) -> int:
        """Append one update to the inbox's log under a per-inbox lock; returns its sequence_id.

        `validate` receives the inbox's snapshot (log length, cached verified state, entries after it) and
        raises to reject. What it returns is applied in the same transaction: address_log changes, the
        installation index (removed installations revoked, their key packages deleted), and the new state
        cached at the new sequence_id.
        """
        log = schema.inbox_log
        async with self.engine.begin() as conn:
            await _lock_inbox(conn, inbox_id)
            accepted = validate(await _inbox_snapshot(conn, inbox_id))
            await _lock(conn, _LOCK_INBOX_LOG)
            sequence_id: int = (
                await conn.execute(
                    sa.insert(log)
                    .values(inbox_id=inbox_id, server_timestamp_ns=time.time_ns(), identity_update=update)
                    .returning(log.c.sequence_id)
                )
            ).scalar_one()
            await _apply_address_changes(conn, inbox_id, sequence_id, accepted.address_changes)
            await _apply_installations(conn, inbox_id, sequence_id, accepted)
            await _cache_state(conn, inbox_id, sequence_id, accepted.state)
        return sequence_id

    async def identity_updates(self, requests: Sequence[tuple[str, int]]) -> dict[str, list[IdentityLogEntry]]:
        """For each (inbox_id, sequence_id) the updates with a larger sequence_id, ascending."""
        out: dict[str, list[IdentityLogEntry]] = {inbox: [] for inbox, _ in requests}
        if not requests:
            return out
        log = schema.inbox_log
        cond = sa.or_(*(sa.and_(log.c.inbox_id == inbox, log.c.sequence_id > seq) for inbox, seq in requests))
        query = sa.select(log).where(cond).order_by(log.c.sequence_id)
        async with self.engine.connect() as conn:
            for r in (await conn.execute(query)).all():
                out[r.inbox_id].append(
                    IdentityLogEntry(
                        sequence_id=r.sequence_id,
                        inbox_id=r.inbox_id,
                        server_timestamp_ns=r.server_timestamp_ns,
                        update=r.identity_update,
                    )
                )
        return out

    async def inbox_ids(self, identifiers: Sequence[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The inbox each (identifier, kind) is currently associated with (latest association wins)."""
        if not identifiers:
            return {}
        al = schema.address_log
        cond = sa.or_(*(sa.and_(al.c.identifier == ident, al.c.identifier_kind == kind) for ident, kind in identifiers))
        query = (
            sa.select(al.c.identifier, al.c.identifier_kind, al.c.inbox_id)
            .where(cond, al.c.revocation_sequence_id.is_(None))
            .order_by(al.c.association_sequence_id)
        )
        async with self.engine.connect() as conn:
            return {(r.identifier, r.identifier_kind): r.inbox_id for r in (await conn.execute(query)).all()}

    # --- commit log -----------------------------------------------------------------------------

    async def insert_commit_log(self, entries: Sequence[NewCommitLogEntry]) -> None:
        now = time.time_ns()
        values = [
            {
                "created_ns": now,
                "group_id": e.group_id,
                "serialized_entry": e.serialized_entry,
                "serialized_signature": e.serialized_signature,
            }
            for e in entries
        ]
        async with self.engine.begin() as conn:
            await _lock(conn, _LOCK_COMMIT_LOG)
            await conn.execute(sa.insert(schema.commit_log).values(values))

    async def query_commit_log(
        self, group_id: bytes, cursor: int, limit: int, max_bytes: int
    ) -> tuple[list[CommitLogRow], bool]:
        """Up to `limit` entries after `cursor`, ascending, cut (in the query) once they would hold more than
        `max_bytes`; also whether the page was cut, so the caller can hand out a cursor for the rest."""
        cl = schema.commit_log
        page = (
            sa.select(cl.c.id, cl.c.group_id, cl.c.serialized_entry, cl.c.serialized_signature)
            .where(cl.c.group_id == group_id, cl.c.id > cursor)
            .order_by(cl.c.id)
            .limit(limit)
            .subquery()
        )
        running = sa.func.sum(sa.func.length(page.c.serialized_entry) + sa.func.length(page.c.serialized_signature))
        sized = sa.select(
            page, running.over(order_by=page.c.id).label("running"), sa.func.count().over().label("page_rows")
        ).subquery()
        query = (
            sa.select(sized.c.id, sized.c.group_id, sized.c.serialized_entry, sized.c.serialized_signature)
            .add_columns(sized.c.page_rows)
            .where(sized.c.running <= max_bytes)
            .order_by(sized.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            # Nothing fits: learn whether anything was there at all (a cut page, not an empty one).
            async with self.engine.connect() as conn:
                exists = await conn.scalar(sa.select(sa.exists().where(cl.c.group_id == group_id, cl.c.id > cursor)))
            return [], bool(exists)
        entries = [
            CommitLogRow(
                id=r.id,
                group_id=r.group_id,
                serialized_entry=r.serialized_entry,
                serialized_signature=r.serialized_signature,
            )
            for r in rows
        ]
        return entries, len(entries) < rows[0].page_rows


async def _lock_inbox(conn: AsyncConnection, inbox_id: str) -> None:
    await conn.execute(
        sa.text("SELECT pg_advisory_xact_lock(:ns, hashtext(:inbox))"), {"ns": _INBOX_LOCK_NAMESPACE, "inbox": inbox_id}
    )


async def _inbox_snapshot(conn: AsyncConnection, inbox_id: str) -> InboxSnapshot:
    """Log length, the cached state and the log entries after it; call with the inbox lock held."""
    log, cache = schema.inbox_log, schema.inbox_state
    length = (
        await conn.execute(sa.select(sa.func.count()).select_from(log).where(log.c.inbox_id == inbox_id))
    ).scalar_one()
    cached = (
        await conn.execute(sa.select(cache.c.sequence_id, cache.c.state).where(cache.c.inbox_id == inbox_id))
    ).first()
    after = cached.sequence_id if cached is not None else 0
    tail = (
        (
            await conn.execute(
                sa.select(log.c.identity_update)
                .where(log.c.inbox_id == inbox_id, log.c.sequence_id > after)
                .order_by(log.c.sequence_id)
            )
        )
        .scalars()
        .all()
    )
    return InboxSnapshot(length, cached.state if cached is not None else None, after, list(tail))


async def _cache_state(conn: AsyncConnection, inbox_id: str, sequence_id: int, state: bytes) -> None:
    cache = schema.inbox_state
    stmt = pg.insert(cache).values(inbox_id=inbox_id, sequence_id=sequence_id, state=state)
    await conn.execute(
        stmt.on_conflict_do_update(index_elements=["inbox_id"], set_={"sequence_id": sequence_id, "state": state})
    )


async def _installation_standing(conn: AsyncConnection, inbox_id: str, installation_key: bytes) -> InstallationStanding:
    members = schema.inbox_installations
    revoked = (
        await conn.execute(
            sa.select(members.c.revocation_sequence_id.is_not(None)).where(
                members.c.installation_key == installation_key, members.c.inbox_id == inbox_id
            )
        )
    ).scalar_one_or_none()
    if revoked is None:
        return InstallationStanding.NOT_A_MEMBER
    return InstallationStanding.REVOKED if revoked else InstallationStanding.MEMBER


async def _apply_installations(
    conn: AsyncConnection, inbox_id: str, sequence_id: int, accepted: AcceptedUpdate
) -> None:
    """Mark the state's installations current (all of them, so an index missing rows heals itself) and the
    removed ones revoked; a revoked installation's key package must not be handed out any more."""
    members, kp = schema.inbox_installations, schema.key_packages
    if accepted.installations:
        stmt = pg.insert(members).values(
            [
                {"installation_key": key, "inbox_id": inbox_id, "association_sequence_id": sequence_id}
                for key in accepted.installations
            ]
        )
        # A re-added installation keeps its first association_sequence_id; only the revocation is cleared.
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["installation_key", "inbox_id"], set_={"revocation_sequence_id": None}
            )
        )
    if accepted.removed_installations:
        removed = list(accepted.removed_installations)
        await conn.execute(
            sa.update(members)
            .where(members.c.inbox_id == inbox_id, members.c.installation_key.in_(removed))
            .values(revocation_sequence_id=sequence_id)
        )
        await conn.execute(sa.delete(kp).where(kp.c.inbox_id == inbox_id, kp.c.installation_key.in_(removed)))


async def _apply_address_changes(
    conn: AsyncConnection, inbox_id: str, sequence_id: int, changes: Sequence[AddressChange]
) -> None:
    al = schema.address_log
    for change in changes:
        if change.added:
            stmt = pg.insert(al).values(
                identifier=change.identifier,
                identifier_kind=change.kind,
                inbox_id=inbox_id,
                association_sequence_id=sequence_id,
                revocation_sequence_id=None,
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["identifier", "identifier_kind", "inbox_id"],
                set_={"association_sequence_id": sequence_id, "revocation_sequence_id": None},
            )
            await conn.execute(stmt)
        else:
            await conn.execute(
                sa.update(al)
                .where(
                    al.c.identifier == change.identifier, al.c.identifier_kind == change.kind, al.c.inbox_id == inbox_id
                )
                .values(revocation_sequence_id=sequence_id)
            )
