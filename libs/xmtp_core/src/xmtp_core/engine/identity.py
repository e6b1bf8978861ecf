"""The identity look-ups the engine needs, as an injected async protocol (the runtime implements it over the node).

A look-up that fails because of what the envelope names (an inbox whose log does not verify, one that needs a
smart-contract-wallet verifier, one the node does not know) becomes ``Rejected(IDENTITY_UNVERIFIABLE)``; any
other exception (``NodeUnavailable``: the node is down) propagates so the runtime retries the envelope later.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Protocol

from xmtp_core.engine.errors import Rejected, RejectReason
from xmtp_core.identity.errors import IdentityError
from xmtp_core.identity.inbox_id import is_inbox_id
from xmtp_core.untrusted import clean_error


class IdentityResolver(Protocol):
    """Identity look-ups the engine needs; the runtime answers them from the node."""

    async def installations_at(self, inbox_id: str, sequence_id: int) -> frozenset[bytes]:
        """Installation keys of ``inbox_id`` after replaying its log up to and including ``sequence_id``."""
        ...

    async def latest_sequence_id(self, inbox_id: str) -> int:
        """The newest sequence id of the inbox's identity log (what a membership extension records)."""
        ...


def lifetime_now(created_ns: int, now: int | None) -> int:
    """The time (seconds) lifetimes are checked at: the caller's, else the node's timestamp of the envelope, so
    every member judges a commit's key packages at the same instant (a late sync must not refuse a commit the
    others accepted), else the clock."""
    if now is not None:
        return now
    return created_ns // 10**9 if created_ns > 0 else int(time.time())


async def installation_states(resolver: IdentityResolver, members: Mapping[str, int]) -> dict[str, frozenset[bytes]]:
    """Each member inbox's installations at the sequence id the membership extension records for it.

    Raises Rejected for a malformed inbox id (before asking anyone) or an identity that does not verify."""
    malformed = next((inbox for inbox in members if not is_inbox_id(inbox)), None)
    if malformed is not None:
        raise Rejected(RejectReason.MALFORMED_INBOX_ID, f"membership names {malformed!r}")
    states: dict[str, frozenset[bytes]] = {}
    for inbox, seq in members.items():
        try:
            states[inbox] = await resolver.installations_at(inbox, seq)
        except (IdentityError, LookupError) as exc:
            raise Rejected(RejectReason.IDENTITY_UNVERIFIABLE, f"inbox {inbox}: {clean_error(exc)}") from exc
    return states
