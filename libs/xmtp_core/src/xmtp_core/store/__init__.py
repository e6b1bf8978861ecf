"""`xmtp_core.store`: the Postgres state store of one XMTP installation (used by the crypto service).

Modules, one concern each:
- `keys` / `cipher`: the `XMTP_DB_ENCRYPTION_KEY` key ring and AES-256-GCM column encryption bound to
  table, column and primary key; `rotation` (+ CLI `python -m xmtp_core.store.rotate`) re-encrypts everything.
- `schema` (Core tables, encrypted-column list) and `migrations` (Alembic, run by `db.migrate`).
- Repositories with plain dataclasses in and out: `installations`, `key_packages`, `identity_cache`,
  `conversations`, `group_states`, `cursors`, `intents`, `messages`, `envelopes` (processed-envelope dedup),
  `rejections` (envelopes the engine refused, with the reason), `outbox` (events written with the envelope
  that produced them, delivered afterwards).
- `_util.Prepared`: hot-path statements compiled once and run on the session's asyncpg connection.
- `locks.conversation_lock`: per-conversation serialisation across processes (transaction advisory lock).
- `store.Store`: bundles engine, key ring and repositories.
"""

from xmtp_core.store._util import Prepared
from xmtp_core.store.cipher import FieldCipher, FieldRef
from xmtp_core.store.conversations import Conversation, ConversationKind, Conversations, ConversationState
from xmtp_core.store.cursors import Cursors
from xmtp_core.store.db import downgrade, make_engine, migrate, session_factory
from xmtp_core.store.envelopes import ProcessedEnvelopes
from xmtp_core.store.errors import (
    DecryptionError,
    IllegalTransitionError,
    KeyConfigError,
    NotFoundError,
    StoreError,
)
from xmtp_core.store.group_states import DEFAULT_MAX_PAST_EPOCHS, GroupState, GroupStates
from xmtp_core.store.identity_cache import CachedUpdate, IdentityCache, IdentitySnapshot
from xmtp_core.store.installations import Installation, Installations
from xmtp_core.store.intents import ALLOWED_TRANSITIONS, Intent, Intents, IntentState
from xmtp_core.store.key_packages import KeyPackages, StoredKeyPackage
from xmtp_core.store.keys import KEY_ENV, EncryptionKey, KeyRing, key_from_env, keys_from_env
from xmtp_core.store.locks import conversation_lock, conversation_lock_key
from xmtp_core.store.messages import DeliveryStatus, Messages, StoredMessage
from xmtp_core.store.outbox import Outbox, OutboxEvent
from xmtp_core.store.rejections import Rejection, Rejections
from xmtp_core.store.rotation import RotationReport, rotate_database, rotate_keys
from xmtp_core.store.store import Store

__all__ = [
    "ALLOWED_TRANSITIONS",
    "DEFAULT_MAX_PAST_EPOCHS",
    "KEY_ENV",
    "CachedUpdate",
    "Conversation",
    "ConversationKind",
    "ConversationState",
    "Conversations",
    "Cursors",
    "DecryptionError",
    "DeliveryStatus",
    "EncryptionKey",
    "FieldCipher",
    "FieldRef",
    "GroupState",
    "GroupStates",
    "IdentityCache",
    "IdentitySnapshot",
    "IllegalTransitionError",
    "Installation",
    "Installations",
    "Intent",
    "IntentState",
    "Intents",
    "KeyConfigError",
    "KeyPackages",
    "KeyRing",
    "Messages",
    "NotFoundError",
    "Outbox",
    "OutboxEvent",
    "Prepared",
    "ProcessedEnvelopes",
    "Rejection",
    "Rejections",
    "RotationReport",
    "Store",
    "StoreError",
    "StoredKeyPackage",
    "StoredMessage",
    "conversation_lock",
    "conversation_lock_key",
    "downgrade",
    "key_from_env",
    "keys_from_env",
    "make_engine",
    "migrate",
    "rotate_database",
    "rotate_keys",
    "session_factory",
]
