"""`xmtp_core.engine`: the XMTP conversation engine (used by the crypto service). Pure logic, no network or
database I/O: envelopes in -> state changes, decrypted messages and events out; intents in -> envelopes out.
Identity look-ups come through an injected async :class:`IdentityResolver`.

Modules:
- `installation`: installation keys, credential, key packages (last resort, X-Wing, pointers), rotation rule.
- `joining`: unwrap Welcomes (direct or pointer + pointee), join, libxmtp's joiner checks.
- `receiving`: one group envelope in server order: own echoes, replays, past-epoch window, application content
  (PlaintextEnvelope -> EncodedContent -> registry), commits validated by XMTP's rules, GroupUpdated.
- `creating`: new DMs / groups; intent payloads; application messages and commits (members by inbox id,
  metadata, admins, permissions, key update) built on a copy so the post-commit state waits for the echo;
  Welcomes per recipient (direct or pointers) once the commit's cursor is known.
- `updates`: the GroupUpdated of a commit, received or our own (`own_commit_update`, for the runtime's echoes).
- `conversation`: the conversation view of group-context extensions; `events`: output dataclasses;
  `errors`: `RejectReason`, `Rejected`, `EngineError`; `identity`: the resolver protocol.
"""

from xmtp_core.engine.conversation import conversation_info, group_conversation
from xmtp_core.engine.creating import (
    AdminAction,
    Built,
    CommitInputs,
    IntentKind,
    IntentPayload,
    add_members_intent,
    build_application,
    build_commit,
    build_commit_in_place,
    key_update_intent,
    new_dm,
    new_group,
    outgoing,
    remove_members_intent,
    send_message_intent,
    update_admins_intent,
    update_metadata_intent,
    update_permissions_intent,
    welcome_messages,
)
from xmtp_core.engine.errors import EngineError, Rejected, RejectReason
from xmtp_core.engine.events import (
    ConversationInfo,
    ConversationJoined,
    ConversationKind,
    EnvelopeRejected,
    Event,
    GroupMessageOut,
    GroupUpdatedEvent,
    MessageReceived,
    Outcome,
    OwnEcho,
)
from xmtp_core.engine.identity import IdentityResolver, installation_states
from xmtp_core.engine.installation import InstallationKeys, key_package_expires_ns, new_key_package, should_rotate
from xmtp_core.engine.joining import Joined, join_welcome, open_pointee, open_welcome
from xmtp_core.engine.receiving import data_hash, may_move_epoch, process_envelope, validate_commit
from xmtp_core.engine.updates import commit_update, own_commit_update

__all__ = [
    "AdminAction",
    "Built",
    "CommitInputs",
    "ConversationInfo",
    "ConversationJoined",
    "ConversationKind",
    "EngineError",
    "EnvelopeRejected",
    "Event",
    "GroupMessageOut",
    "GroupUpdatedEvent",
    "IdentityResolver",
    "InstallationKeys",
    "IntentKind",
    "IntentPayload",
    "Joined",
    "MessageReceived",
    "Outcome",
    "OwnEcho",
    "RejectReason",
    "Rejected",
    "add_members_intent",
    "build_application",
    "build_commit",
    "build_commit_in_place",
    "commit_update",
    "conversation_info",
    "data_hash",
    "group_conversation",
    "installation_states",
    "join_welcome",
    "key_package_expires_ns",
    "key_update_intent",
    "may_move_epoch",
    "new_dm",
    "new_group",
    "new_key_package",
    "open_pointee",
    "open_welcome",
    "outgoing",
    "own_commit_update",
    "process_envelope",
    "remove_members_intent",
    "send_message_intent",
    "should_rotate",
    "update_admins_intent",
    "update_metadata_intent",
    "update_permissions_intent",
    "validate_commit",
    "welcome_messages",
]
