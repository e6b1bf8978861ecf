"""The last-resort guard around one envelope: every envelope ends processed, rejected with a recorded reason,
or left for a retry, never in a loop.

The engine turns every hostile input it knows into a typed rejection; this guard is for what it does not know.
A failure is *transient* when the envelope could succeed later unchanged (the node or Postgres down, a
connection dropped): the envelope is left unmarked and `Transient` is raised to the caller, who retries it
(the stream with backoff, a sync on its next run). Anything else is *poison*: the envelope is recorded as
rejected (reason `unexpected`, the error's type and cleaned text as detail), marked processed, and its
conversation goes on. A transient failure that keeps recurring on the same envelope `MAX_TRANSIENT_FAILURES`
times in a row is treated as poison too (an attacker-chosen look-up that always times out must not stall
the conversation for ever)."""

from __future__ import annotations

import asyncio

import asyncpg.exceptions as pg_exc  # type: ignore[import-untyped]
import sqlalchemy.exc as sa_exc

from xmtp_core.node.errors import NodeError

MAX_TRANSIENT_FAILURES = 8

# asyncpg's connection-level errors (it is the store's driver; hot-path statements run on it directly, so its
# InterfaceError counts as SQLAlchemy's wrapper of it does)
_PG_TRANSIENT: tuple[type[BaseException], ...] = (
    pg_exc.CannotConnectNowError,
    pg_exc.ConnectionDoesNotExistError,
    pg_exc.PostgresConnectionError,
    pg_exc.TooManyConnectionsError,
    pg_exc.InterfaceError,
)


class Transient(Exception):
    """The envelope was left unprocessed because of a failure that may pass; try it again later."""

    def __init__(self, topic: str, envelope_id: int, cause: BaseException) -> None:
        super().__init__(f"{topic} envelope {envelope_id}: transient {type(cause).__name__}")
        self.topic = topic
        self.envelope_id = envelope_id


def is_transient(exc: BaseException) -> bool:
    """Whether the failure is of the environment (retry later) rather than of the envelope (poison)."""
    if isinstance(exc, NodeError):
        return exc.retryable
    if isinstance(exc, sa_exc.DBAPIError):
        return bool(exc.connection_invalidated) or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    return isinstance(exc, (OSError, TimeoutError, asyncio.TimeoutError, *_PG_TRANSIENT))


class FailureCounts:
    """Consecutive transient failures per envelope, to stop retrying one that always fails."""

    def __init__(self, limit: int = MAX_TRANSIENT_FAILURES) -> None:
        self.limit = limit
        self._counts: dict[tuple[str, int], int] = {}

    def failed(self, topic: str, envelope_id: int) -> bool:
        """Count a transient failure; True when the envelope has used up its retries."""
        key = (topic, envelope_id)
        self._counts[key] = self._counts.get(key, 0) + 1
        if len(self._counts) > 10_000:  # bounded: forget the oldest
            del self._counts[next(iter(self._counts))]
        return self._counts[key] >= self.limit

    def done(self, topic: str, envelope_id: int) -> None:
        self._counts.pop((topic, envelope_id), None)
