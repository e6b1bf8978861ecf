"""Bounded LRU of loaded private-key objects, keyed by the serialised private key.

Loading a raw private key into a ``cryptography`` object computes its public key (a scalar multiplication that
costs as much as a signature), so signing or decapsulating with the same key bytes reloads it needlessly.
Each scheme keeps one small cache. Only keys that loaded successfully are stored; the raw bytes never appear in
``repr``. Entries are dropped oldest-first once ``capacity`` is reached, so a cache never holds more than a
handful of recently used keys; :meth:`KeyCache.discard` drops one the protocol has deleted and
:meth:`KeyCache.clear` drops them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")


class KeyCache(Generic[K]):
    """At most ``capacity`` loaded key objects, least recently used evicted first."""

    __slots__ = ("_capacity", "_entries")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("key cache capacity must be at least 1")
        self._capacity = capacity
        self._entries: dict[bytes, K] = {}  # insertion order is recency order

    def get(self, raw: bytes, load: Callable[[bytes], K]) -> K:
        """The object for ``raw``, loaded with ``load`` on a miss; ``load`` errors propagate and cache nothing."""
        entries = self._entries
        key = entries.pop(raw, None)
        if key is None:
            key = load(raw)
            self._make_room()
        entries[raw] = key
        return key

    def put(self, raw: bytes, key: K) -> None:
        """Store an object the caller already loaded (e.g. right after deriving or generating it)."""
        if self._entries.pop(raw, None) is None:
            self._make_room()
        self._entries[raw] = key

    def discard(self, raw: bytes) -> None:
        """Drop the key object loaded for ``raw``, if any."""
        self._entries.pop(raw, None)

    def _make_room(self) -> None:
        entries = self._entries
        while len(entries) >= self._capacity:
            try:
                del entries[next(iter(entries))]
            except (StopIteration, KeyError, RuntimeError):  # another thread changed the dict meanwhile
                return

    def clear(self) -> None:
        """Drop every cached key object."""
        self._entries.clear()

    def __contains__(self, raw: object) -> bool:
        return raw in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"KeyCache({len(self._entries)} of {self._capacity} keys)"
