"""Outgoing intents (send message, add members, key update …) and their publish state machine.

    ToPublish → Published → Committed → Processed
    Published → ToPublish      (the node rejected it or the epoch moved on: rebuild and retry)
    Published → Processed      (application messages have no commit step)
    ToPublish / Published / Committed → Error (with a reason)

Processed and Error are final. A crashed worker resumes from `list_by_state`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from xmtp_core.store._util import Columns, Prepared, now_ns
from xmtp_core.store.cipher import FieldCipher, FieldRef
from xmtp_core.store.errors import IllegalTransitionError, NotFoundError
from xmtp_core.store.schema import intents as t


class IntentState(enum.StrEnum):
    """The states an intent moves through (see `ALLOWED_TRANSITIONS`)."""

    TO_PUBLISH = "ToPublish"
    PUBLISHED = "Published"
    COMMITTED = "Committed"
    PROCESSED = "Processed"
    ERROR = "Error"


ALLOWED_TRANSITIONS: dict[IntentState, frozenset[IntentState]] = {
    IntentState.TO_PUBLISH: frozenset({IntentState.PUBLISHED, IntentState.ERROR}),
    IntentState.PUBLISHED: frozenset(
        {IntentState.COMMITTED, IntentState.PROCESSED, IntentState.TO_PUBLISH, IntentState.ERROR}
    ),
    IntentState.COMMITTED: frozenset({IntentState.PROCESSED, IntentState.ERROR}),
    IntentState.PROCESSED: frozenset(),
    IntentState.ERROR: frozenset(),
}


@dataclass(frozen=True)
class Intent:
    """Outgoing work (a message or a commit) and where it stands: ToPublish, Published, Committed, Processed or
    Error."""

    id: int
    group_id: bytes
    kind: str
    payload: bytes
    state: IntentState
    attempts: int
    created_ns: int
    updated_ns: int
    error: str | None = None
    published_hash: bytes | None = None
    published_id: int | None = None

    def __repr__(self) -> str:
        return f"Intent(id={self.id}, kind={self.kind!r}, state={self.state.value}, attempts={self.attempts})"


def _ref(intent_id: int) -> FieldRef:
    return FieldRef(t.name, "payload", (intent_id,))


class Intents:
    """Repository of intents; transitions are row-locked so racing workers serialise."""

    def __init__(self, cipher: FieldCipher) -> None:
        self._cipher = cipher

    async def create(
        self, session: AsyncSession, group_id: bytes, kind: str, payload: bytes, *, published_hash: bytes | None = None
    ) -> Intent:
        """A new intent in ToPublish (or, with ``published_hash``, already Published on its first attempt:
        built and stored in one transaction). Its id is drawn first because the payload's ciphertext is
        bound to it."""
        if not kind:
            raise ValueError("intent kind must not be empty")
        intent_id = int((await _NEXT_ID.fetch(session, {}))[0][0])
        now = now_ns()
        state, attempts = (IntentState.TO_PUBLISH, 0) if published_hash is None else (IntentState.PUBLISHED, 1)
        values = {
            "id": intent_id,
            "group_id": group_id,
            "kind": kind,
            "payload": self._cipher.encrypt(_ref(intent_id), payload),
            "state": state.value,
            "attempts": attempts,
            "created_ns": now,
            "updated_ns": now,
            "published_hash": published_hash,
        }
        await _INSERT.execute(session, values)
        return Intent(intent_id, group_id, kind, payload, state, attempts, now, now, published_hash=published_hash)

    async def get(self, session: AsyncSession, intent_id: int) -> Intent | None:
        row = (await session.execute(sa.select(t).where(t.c.id == intent_id))).one_or_none()
        return None if row is None else self._from_row(row._mapping)

    async def transition(
        self,
        session: AsyncSession,
        intent_id: int,
        to: IntentState,
        *,
        error: str | None = None,
        published_hash: bytes | None = None,
        published_id: int | None = None,
    ) -> Intent:
        """Move an intent to `to` if its current state allows it (row-locked, so racing workers serialise)."""
        row = (await session.execute(sa.select(t).where(t.c.id == intent_id).with_for_update())).one_or_none()
        if row is None:
            raise NotFoundError(f"no intent {intent_id}")
        current = IntentState(row._mapping["state"])
        if to not in ALLOWED_TRANSITIONS[current]:
            raise IllegalTransitionError(f"intent {intent_id}: {current.value} → {to.value} is not allowed")
        if (to is IntentState.ERROR) != (error is not None):
            raise ValueError("an error reason is required for (and only for) the Error state")
        values: dict[str, object] = {"state": to.value, "error": error, "updated_ns": now_ns()}
        if to is IntentState.PUBLISHED:
            values["attempts"] = t.c.attempts + 1
            values["published_hash"] = published_hash
            values["published_id"] = published_id
        elif to is IntentState.TO_PUBLISH:
            # The old envelope is void; a retry publishes a new one.
            values["published_hash"] = None
            values["published_id"] = None
        elif published_id is not None:
            values["published_id"] = published_id
        stmt = sa.update(t).where(t.c.id == intent_id).values(values).returning(*t.columns)
        return self._from_row((await session.execute(stmt)).one()._mapping)

    async def set_payload(self, session: AsyncSession, intent_id: int, payload: bytes) -> None:
        """Replace the payload of an intent that is not final (a commit rebuilt on a new epoch carries new bytes)."""
        final = [IntentState.PROCESSED.value, IntentState.ERROR.value]
        stmt = (
            sa.update(t)
            .where(t.c.id == intent_id, t.c.state.not_in(final))
            .values(payload=self._cipher.encrypt(_ref(intent_id), payload), updated_ns=now_ns())
        )
        result = await session.execute(stmt)
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFoundError(f"no unfinished intent {intent_id}")

    async def list_by_state(
        self,
        session: AsyncSession,
        states: IntentState | Iterable[IntentState],
        group_id: bytes | None = None,
        limit: int | None = None,
    ) -> list[Intent]:
        """Intents in the given state(s), oldest first, for resuming work after a restart."""
        wanted = [states] if isinstance(states, IntentState) else list(states)
        stmt = sa.select(t).where(t.c.state.in_([s.value for s in wanted])).order_by(t.c.id)
        if group_id is not None:
            stmt = stmt.where(t.c.group_id == group_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [self._from_row(r._mapping) for r in await session.execute(stmt)]

    async def find_published(self, session: AsyncSession, group_id: bytes, published_hash: bytes) -> Intent | None:
        """The Published intent whose envelope we just saw come back on the group's stream."""
        stmt = sa.select(t).where(
            t.c.group_id == group_id, t.c.published_hash == published_hash, t.c.state == IntentState.PUBLISHED.value
        )
        row = (await session.execute(stmt)).first()
        return None if row is None else self._from_row(row._mapping)

    async def finish_published(
        self,
        session: AsyncSession,
        group_id: bytes,
        published_hash: bytes,
        kind: str,
        to: IntentState,
        *,
        published_id: int,
    ) -> Intent | None:
        """`find_published` and `transition` to ``to`` in one statement, for an intent of ``kind`` whose echo
        needs nothing else of it (a message's): None when no such intent is Published. The update locks the
        row and re-checks the state, so racing workers serialise as in `transition`."""
        if to not in ALLOWED_TRANSITIONS[IntentState.PUBLISHED] or to is IntentState.ERROR:
            raise IllegalTransitionError(f"{IntentState.PUBLISHED.value} → {to.value} is not an echo's move")
        values = {
            "b_group_id": group_id, "b_published_hash": published_hash, "b_kind": kind,
            "to": to.value, "now": now_ns(), "b_published_id": published_id,
        }  # fmt: skip
        row = await _FINISH_PUBLISHED.fetchrow(session, values)
        return None if row is None else self._from_row(row)

    def _from_row(self, m: Columns) -> Intent:
        return Intent(
            id=m["id"],
            group_id=m["group_id"],
            kind=m["kind"],
            payload=self._cipher.decrypt(_ref(m["id"]), m["payload"]),
            state=IntentState(m["state"]),
            attempts=m["attempts"],
            created_ns=m["created_ns"],
            updated_ns=m["updated_ns"],
            error=m["error"],
            published_hash=m["published_hash"],
            published_id=m["published_id"],
        )


def _id_sequence() -> sa.ColumnElement[str]:
    return sa.func.pg_get_serial_sequence(t.name, t.c.id.name)


# Built once, run on the driver (`xmtp_core.store._util`; an update's own parameters may not be named after its
# table's columns).
_NEXT_ID = Prepared(sa.select(sa.func.nextval(_id_sequence())))
_INSERT = Prepared(
    sa.insert(t),
    ["id", "group_id", "kind", "payload", "state", "attempts", "created_ns", "updated_ns", "published_hash"],
)
_FINISH_PUBLISHED = Prepared(
    sa.update(t)
    .where(
        t.c.group_id == sa.bindparam("b_group_id"),
        t.c.published_hash == sa.bindparam("b_published_hash"),
        t.c.state == IntentState.PUBLISHED.value,
        t.c.kind == sa.bindparam("b_kind"),
    )
    .values(
        state=sa.bindparam("to"),
        error=None,
        updated_ns=sa.bindparam("now"),
        published_id=sa.bindparam("b_published_id"),
    )
    .returning(*t.columns)
)
