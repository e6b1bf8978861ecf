"""`NodeIdentityResolver`: the engine's identity look-ups answered from the node's identity logs (verified
locally by replaying them), cached in memory per inbox and sequence id (the newest `MAX_INBOXES_KEPT` /
`MAX_STATES_KEPT` of them)."""

from __future__ import annotations

from typing import TypeVar

from xmtp_core.identity import verify_log
from xmtp_core.node import IdentityUpdateLog, NodeClient

K = TypeVar("K")
V = TypeVar("V")


# Inboxes (and inbox states) kept: every new sender adds one, so a long-lived process forgets the oldest.
MAX_INBOXES_KEPT = 10_000
MAX_STATES_KEPT = 20_000


def _keep(cache: dict[K, V], key: K, value: V, limit: int) -> None:
    cache.pop(key, None)
    cache[key] = value  # newest last
    while len(cache) > limit:
        del cache[next(iter(cache))]


class NodeIdentityResolver:
    """The engine's identity look-ups from the node's identity logs, verified locally and cached per inbox and
    sequence id."""

    def __init__(self, node: NodeClient) -> None:
        self._node = node
        self._logs: dict[str, list[IdentityUpdateLog]] = {}
        self._states: dict[tuple[str, int], frozenset[bytes]] = {}

    async def _log(self, inbox_id: str, *, at_least: int = 0, refresh: bool = False) -> list[IdentityUpdateLog]:
        log = self._logs.get(inbox_id)
        newest = max((e.sequence_id for e in log), default=0) if log else 0
        if log is None or refresh or newest < at_least:
            log = sorted((await self._node.get_identity_updates({inbox_id: 0}))[inbox_id], key=lambda e: e.sequence_id)
            _keep(self._logs, inbox_id, log, MAX_INBOXES_KEPT)
        return log

    async def installations_at(self, inbox_id: str, sequence_id: int) -> frozenset[bytes]:
        cached = self._states.get((inbox_id, sequence_id))
        if cached is not None:
            return cached
        log = await self._log(inbox_id, at_least=sequence_id)
        prefix = [e.update for e in log if e.sequence_id <= sequence_id]
        keys = frozenset((await verify_log(prefix)).installation_keys()) if prefix else frozenset()
        _keep(self._states, (inbox_id, sequence_id), keys, MAX_STATES_KEPT)
        return keys

    async def latest_sequence_id(self, inbox_id: str) -> int:
        log = await self._log(inbox_id, refresh=True)
        if not log:
            raise LookupError(f"inbox {inbox_id} has no identity log on the node")
        return log[-1].sequence_id
