"""Versioned data functions for migrations. Each `*_v<N>` function is frozen once a revision calls it: a
later change of rules gets a new version (and a new revision), never an edit, so an old revision keeps doing
what it did when it was written.

The credential parsing is written out here (on the generated protobuf class, which is the wire schema, not
logic). Whether a stored identity log verifies, and the state it ends in, are the one question answered by
live code, the association state machine of `xmtp_core.identity` (signatures and rules are the protocol,
held to libxmtp by the interop tests). `tests/test_migration_0003_frozen.py` upgrades a recorded 0002
database and compares every row, so a library change that would alter an old revision's output fails there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError
from xmtp_core.identity import AssociationState, IdentityError, apply_update_sync
from xmtp_core.protos.identity.associations import association_pb2
from xmtp_core.protos.identity.credential_pb2 import MlsCredential


def credential_inbox_id_v1(identity: bytes) -> str | None:
    """Revision 0003: the inbox id of a BasicCredential identity (`MlsCredential`), or None when it does not
    parse or names none. No format check: 0003 was written before inbox ids were format-checked."""
    try:
        inbox_id = MlsCredential.FromString(identity).inbox_id
    except DecodeError:
        return None
    return inbox_id or None


@dataclass(frozen=True)
class InstallationHistory:
    """What revision 0003 learns from one verified log: the installation changes and the final state."""

    changes: list[tuple[int, bytes, bool]]  # (sequence id, installation key, added?), oldest first
    final_sequence_id: int
    final_state: bytes  # the serialized `AssociationState` cached in `inbox_state`


def installation_changes_v1(log: Sequence[tuple[int, bytes]]) -> InstallationHistory | None:
    """Revision 0003: replay one inbox's stored log (sequence id, serialized update; in order) from empty and
    list every (sequence id, installation key, added?) change an update made; None when the log does not
    verify or is empty. Changes are per update and net (an installation added and revoked by one update is
    no change)."""
    state: AssociationState | None = None
    changes: list[tuple[int, bytes, bool]] = []
    try:
        for sequence_id, raw in log:
            before = set(state.installation_keys()) if state is not None else set()
            state = apply_update_sync(state, association_pb2.IdentityUpdate.FromString(raw))
            after = set(state.installation_keys())
            changes += [(sequence_id, key, True) for key in sorted(after - before)]
            changes += [(sequence_id, key, False) for key in sorted(before - after)]
    except (IdentityError, ValueError):  # DecodeError is a ValueError too
        return None
    if state is None:
        return None
    return InstallationHistory(changes, log[-1][0], state.to_proto().SerializeToString())
