"""XMTP content types: EncodedContent, codecs for every standard type, a registry, compression,
the PlaintextEnvelope and remote-attachment encryption.

Typical use::

    registry = default_registry()
    prepared = registry.prepare("hello")                 # -> payload bytes + should_push
    envelope = encode_plaintext_envelope(prepared.payload, new_idempotency_key())
    ...
    decoded = registry.decode_bytes(decode_plaintext_envelope(data).content)
"""

from xmtp_core.content.codec import ContentCodec
from xmtp_core.content.codecs.attachment import (
    ATTACHMENT,
    MULTI_REMOTE_ATTACHMENT,
    REMOTE_ATTACHMENT,
    Attachment,
    MultiRemoteAttachment,
    RemoteAttachment,
)
from xmtp_core.content.codecs.coinbase import ACTIONS, INTENT, Action, Actions, ActionStyle, Intent
from xmtp_core.content.codecs.group import (
    DELETE_MESSAGE,
    GROUP_MEMBERSHIP_CHANGE,
    GROUP_UPDATED,
    LEAVE_REQUEST,
    DeleteMessage,
    GroupMembershipChanges,
    GroupUpdated,
    LeaveRequest,
    MembershipChange,
    MetadataFieldChange,
)
from xmtp_core.content.codecs.reaction import (
    REACTION_V1,
    REACTION_V2,
    Reaction,
    ReactionAction,
    ReactionSchema,
)
from xmtp_core.content.codecs.read_receipt import READ_RECEIPT, ReadReceipt
from xmtp_core.content.codecs.reply import REPLY, Reply
from xmtp_core.content.codecs.text import MARKDOWN, TEXT, Markdown
from xmtp_core.content.codecs.transactions import (
    TRANSACTION_REFERENCE,
    WALLET_SEND_CALLS,
    TransactionMetadata,
    TransactionReference,
    WalletCall,
    WalletCallMetadata,
    WalletSendCalls,
)
from xmtp_core.content.compression import DecompressionLimitError
from xmtp_core.content.envelope import (
    DeviceSyncEnvelope,
    PlaintextEnvelope,
    decode_plaintext_envelope,
    encode_plaintext_envelope,
    message_id,
    new_idempotency_key,
)
from xmtp_core.content.errors import ContentDecodeError, ContentEncodeError, ContentError, ContentTooLargeError
from xmtp_core.content.limits import MAX_MESSAGE_BYTES
from xmtp_core.content.registry import (
    MAX_CONTENT_SIZE,
    ContentRegistry,
    DecodedContent,
    PreparedContent,
    ReceivedContentTooLargeError,
    UnknownContent,
    builtin_codecs,
    default_registry,
)
from xmtp_core.content.types import Compression, ContentTypeId, EncodedContent

__all__ = [
    "ACTIONS",
    "ATTACHMENT",
    "DELETE_MESSAGE",
    "GROUP_MEMBERSHIP_CHANGE",
    "GROUP_UPDATED",
    "INTENT",
    "LEAVE_REQUEST",
    "MARKDOWN",
    "MAX_CONTENT_SIZE",
    "MAX_MESSAGE_BYTES",
    "MULTI_REMOTE_ATTACHMENT",
    "REACTION_V1",
    "REACTION_V2",
    "READ_RECEIPT",
    "REMOTE_ATTACHMENT",
    "REPLY",
    "TEXT",
    "TRANSACTION_REFERENCE",
    "WALLET_SEND_CALLS",
    "Action",
    "ActionStyle",
    "Actions",
    "Attachment",
    "Compression",
    "ContentCodec",
    "ContentDecodeError",
    "ContentEncodeError",
    "ContentError",
    "ContentRegistry",
    "ContentTooLargeError",
    "ContentTypeId",
    "DecodedContent",
    "DecompressionLimitError",
    "DeleteMessage",
    "DeviceSyncEnvelope",
    "EncodedContent",
    "GroupMembershipChanges",
    "GroupUpdated",
    "Intent",
    "LeaveRequest",
    "Markdown",
    "MembershipChange",
    "MetadataFieldChange",
    "MultiRemoteAttachment",
    "PlaintextEnvelope",
    "PreparedContent",
    "Reaction",
    "ReactionAction",
    "ReactionSchema",
    "ReadReceipt",
    "ReceivedContentTooLargeError",
    "RemoteAttachment",
    "Reply",
    "TransactionMetadata",
    "TransactionReference",
    "UnknownContent",
    "WalletCall",
    "WalletCallMetadata",
    "WalletSendCalls",
    "builtin_codecs",
    "decode_plaintext_envelope",
    "default_registry",
    "encode_plaintext_envelope",
    "message_id",
    "new_idempotency_key",
]
