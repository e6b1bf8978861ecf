"""The identity look-ups the engine needs, as an injected async protocol (the runtime implements it over the node)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class IdentityResolver(Protocol):
    async def installations_at(self, inbox_id: str, sequence_id: int) -> frozenset[bytes]:
        """Installation keys of ``inbox_id`` after replaying its log up to and including ``sequence_id``."""
        ...

    async def latest_sequence_id(self, inbox_id: str) -> int:
        """The newest sequence id of the inbox's identity log (what a membership extension records)."""
        ...


async def installation_states(resolver: IdentityResolver, members: Mapping[str, int]) -> dict[str, frozenset[bytes]]:
    """Each member inbox's installations at the sequence id the membership extension records for it."""
    return {inbox: await resolver.installations_at(inbox, seq) for inbox, seq in members.items()}
