"""SQLAlchemy Core tables the repositories query, and the list of encrypted columns (the DDL lives in migrations).

`ENCRYPTED_COLUMNS` is the single source of truth for what is encrypted: key rotation walks it, and the tests
check that every entry really holds ciphertext.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

metadata = sa.MetaData()

installations = sa.Table(
    "installations",
    metadata,
    sa.Column("installation_key", sa.LargeBinary, primary_key=True),
    sa.Column("inbox_id", sa.Text, nullable=False),
    sa.Column("private_signing_key", sa.LargeBinary, nullable=False),  # encrypted
    sa.Column("credential", sa.LargeBinary, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
)

key_packages = sa.Table(
    "key_packages",
    metadata,
    sa.Column("ref", sa.LargeBinary, primary_key=True),
    sa.Column("installation_key", sa.LargeBinary, nullable=False),
    sa.Column("key_package", sa.LargeBinary, nullable=False),
    sa.Column("init_private_key", sa.LargeBinary, nullable=False),  # encrypted
    sa.Column("encryption_private_key", sa.LargeBinary, nullable=False),  # encrypted
    sa.Column("welcome_wrapper_private_key", sa.LargeBinary, nullable=True),  # encrypted
    sa.Column("is_last_resort", sa.Boolean, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("expires_ns", sa.BigInteger, nullable=False),
    sa.Column("consumed_ns", sa.BigInteger, nullable=True),
    sa.Column("uploaded_ns", sa.BigInteger, nullable=True),  # the node accepted it
    sa.Column("welcome_used_ns", sa.BigInteger, nullable=True),  # a Welcome we joined used it
)

identity_cache = sa.Table(
    "identity_cache",
    metadata,
    sa.Column("inbox_id", sa.Text, primary_key=True),
    sa.Column("sequence_id", sa.BigInteger, primary_key=True),
    sa.Column("update", sa.LargeBinary, nullable=False),
)

identity_snapshots = sa.Table(
    "identity_snapshots",
    metadata,
    sa.Column("inbox_id", sa.Text, primary_key=True),
    sa.Column("sequence_id", sa.BigInteger, nullable=False),
    sa.Column("state", sa.LargeBinary, nullable=False),
    sa.Column("verified_ns", sa.BigInteger, nullable=False),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("group_id", sa.LargeBinary, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("dm_peer_inbox_id", sa.Text, nullable=True),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
)

conversation_members = sa.Table(
    "conversation_members",
    metadata,
    sa.Column(
        "group_id", sa.LargeBinary, sa.ForeignKey("conversations.group_id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("inbox_id", sa.Text, primary_key=True),
)

group_states = sa.Table(
    "group_states",
    metadata,
    sa.Column("group_id", sa.LargeBinary, primary_key=True),
    sa.Column("epoch", sa.BigInteger, primary_key=True),
    sa.Column("state", sa.LargeBinary, nullable=False),  # encrypted
    sa.Column("saved_ns", sa.BigInteger, nullable=False),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("last_id", sa.BigInteger, nullable=False),
)

intents = sa.Table(
    "intents",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
    sa.Column("group_id", sa.LargeBinary, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),  # encrypted
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("published_hash", sa.LargeBinary, nullable=True),
    sa.Column("published_id", sa.BigInteger, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("updated_ns", sa.BigInteger, nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    # A keyed blind index of XMTP's message id (HMAC under `store_secrets`' index key), not the id itself: the id
    # is SHA-256 of group id, idempotency key and content, so in clear it would confirm a guessed message.
    sa.Column("id", sa.LargeBinary, primary_key=True),
    sa.Column("group_id", sa.LargeBinary, nullable=False),
    sa.Column("sender_inbox_id", sa.Text, nullable=False),
    sa.Column("sender_installation_key", sa.LargeBinary, nullable=False),
    sa.Column("sent_ns", sa.BigInteger, nullable=False),
    sa.Column("content_type", sa.Text, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),  # encrypted
    sa.Column("delivery_status", sa.Text, nullable=False),
    sa.Column("message_id", sa.LargeBinary, nullable=True),  # encrypted: XMTP's id (NULL on rows from before 0004)
)

# Secrets the store itself generates (the blind-index key), encrypted under the key ring like any column, so a
# key rotation re-encrypts them and the index they key stays valid.
store_secrets = sa.Table(
    "store_secrets",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),  # encrypted
)

processed_envelopes = sa.Table(
    "processed_envelopes",
    metadata,
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("envelope_id", sa.BigInteger, primary_key=True),
    sa.Column("envelope_hash", sa.LargeBinary, nullable=True),
    sa.Column("processed_ns", sa.BigInteger, nullable=False),
)


rejected_envelopes = sa.Table(
    "rejected_envelopes",
    metadata,
    sa.Column("topic", sa.Text, primary_key=True),
    sa.Column("envelope_id", sa.BigInteger, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("rejected_ns", sa.BigInteger, nullable=False),
)

# Events owed to the application (decrypted messages, joins, updates, rejections), written in the transaction
# of the envelope that produced them: a transactional outbox. Delivered rows are pruned later.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),  # stable: the bus's Nats-Msg-Id
    sa.Column("seq", sa.BigInteger, sa.Identity(always=False), nullable=False, unique=True),
    sa.Column("conversation", sa.LargeBinary, nullable=False),  # group id, or installation key for welcomes
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),  # encrypted: it may hold decrypted content
    sa.Column("created_ns", sa.BigInteger, nullable=False),
    sa.Column("delivered_ns", sa.BigInteger, nullable=True),
)

sa.Index("key_packages_installation", key_packages.c.installation_key)
sa.Index("intents_state_id", intents.c.state, intents.c.id)
sa.Index("intents_group_id", intents.c.group_id, intents.c.id)
sa.Index("messages_group_sent", messages.c.group_id, messages.c.sent_ns)
sa.Index("processed_envelopes_hash", processed_envelopes.c.envelope_hash)
sa.Index("outbox_pending", outbox.c.seq, postgresql_where=outbox.c.delivered_ns.is_(None))


@dataclass(frozen=True)
class EncryptedColumns:
    """The encrypted columns of one table and the primary key their ciphertexts are bound to."""

    table: sa.Table
    columns: tuple[str, ...]

    @property
    def pk(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.table.primary_key.columns)


ENCRYPTED_COLUMNS: tuple[EncryptedColumns, ...] = (
    EncryptedColumns(installations, ("private_signing_key",)),
    EncryptedColumns(key_packages, ("init_private_key", "encryption_private_key", "welcome_wrapper_private_key")),
    EncryptedColumns(group_states, ("state",)),
    EncryptedColumns(intents, ("payload",)),
    EncryptedColumns(messages, ("content", "message_id")),
    EncryptedColumns(store_secrets, ("value",)),
    EncryptedColumns(outbox, ("payload",)),
)
