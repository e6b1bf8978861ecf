"""Hypothesis strategies producing valid values for every built-in content type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st
from xmtp_core.content import (
    ACTIONS,
    ATTACHMENT,
    DELETE_MESSAGE,
    GROUP_MEMBERSHIP_CHANGE,
    GROUP_UPDATED,
    INTENT,
    LEAVE_REQUEST,
    MARKDOWN,
    MULTI_REMOTE_ATTACHMENT,
    REACTION_V1,
    REACTION_V2,
    READ_RECEIPT,
    REMOTE_ATTACHMENT,
    REPLY,
    TEXT,
    TRANSACTION_REFERENCE,
    WALLET_SEND_CALLS,
    Action,
    Actions,
    ActionStyle,
    Attachment,
    Compression,
    ContentTypeId,
    DeleteMessage,
    EncodedContent,
    GroupMembershipChanges,
    GroupUpdated,
    Intent,
    LeaveRequest,
    Markdown,
    MembershipChange,
    MetadataFieldChange,
    MultiRemoteAttachment,
    Reaction,
    ReactionAction,
    ReactionSchema,
    ReadReceipt,
    RemoteAttachment,
    Reply,
    TransactionMetadata,
    TransactionReference,
    WalletCall,
    WalletCallMetadata,
    WalletSendCalls,
)

# Protobuf strings and UTF-8 JSON cannot carry lone surrogates, so no valid value contains one.
text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
opt_text = st.none() | text
u32 = st.integers(0, 2**32 - 1)
small_lists = {"max_size": 4}


def tuples(elements: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(elements, **small_lists).map(tuple)


content_type_ids = st.builds(ContentTypeId, text, text, u32, u32)
encoded_contents = st.builds(
    EncodedContent,
    type=content_type_ids,
    content=st.binary(max_size=64),
    parameters=st.dictionaries(text, text, max_size=4),
    fallback=opt_text,
    compression=st.none() | st.sampled_from(Compression),
)

reactions_v1 = st.builds(
    Reaction,
    reference=text,
    content=text,
    action=st.sampled_from([ReactionAction.ADDED, ReactionAction.REMOVED]),
    schema=st.sampled_from([ReactionSchema.UNICODE, ReactionSchema.SHORTCODE, ReactionSchema.CUSTOM]),
    reference_inbox_id=opt_text,
)
reactions_v2 = st.builds(
    Reaction,
    reference=text,
    content=text,
    action=st.sampled_from(ReactionAction),
    schema=st.sampled_from(ReactionSchema),
    reference_inbox_id=st.none() | text.filter(bool),  # v2 encodes "no inbox id" as ""
)

remote_attachments = st.builds(
    RemoteAttachment,
    url=text.map(lambda s: "https://" + s),
    content_digest=text,
    secret=st.binary(max_size=40),
    salt=st.binary(max_size=40),
    nonce=st.binary(max_size=16),
    scheme=text,
    content_length=st.none() | u32,
    filename=opt_text,
)

transaction_references = st.builds(
    TransactionReference,
    reference=text,
    network_id=text | st.integers(-(2**70), 2**70),
    namespace=opt_text,
    metadata=st.none()
    | st.builds(
        TransactionMetadata,
        text,
        text,
        st.floats(allow_nan=False, allow_infinity=False),
        u32,
        text,
        text,
    ),
)

_reserved = {"description", "transactionType"}
wallet_calls = st.builds(
    WalletCall,
    to=opt_text,
    data=opt_text,
    value=opt_text,
    gas=opt_text,
    metadata=st.none()
    | st.builds(
        WalletCallMetadata,
        text,
        text,
        st.dictionaries(text.filter(lambda k: k not in _reserved), text, max_size=3),
    ),
)
wallet_send_calls = st.builds(
    WalletSendCalls,
    version=text,
    chain_id=text,
    from_address=text,
    calls=tuples(wallet_calls),
    capabilities=st.none() | st.dictionaries(text, text, max_size=3),
)

group_updates = st.builds(
    GroupUpdated,
    initiated_by_inbox_id=text,
    added_inboxes=tuples(text),
    removed_inboxes=tuples(text),
    metadata_field_changes=tuples(st.builds(MetadataFieldChange, text, opt_text, opt_text)),
    left_inboxes=tuples(text),
    added_admin_inboxes=tuples(text),
    removed_admin_inboxes=tuples(text),
    added_super_admin_inboxes=tuples(text),
    removed_super_admin_inboxes=tuples(text),
)
_changes = tuples(st.builds(MembershipChange, tuples(st.binary(max_size=33)), text, text))
membership_changes = st.builds(GroupMembershipChanges, _changes, _changes, _changes, _changes)

# Sent with millisecond precision; any offset, since they are compared as instants.
timestamps = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9000, 1, 1),
    timezones=st.just(UTC) | st.builds(timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m))),
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))
actions = st.builds(
    Actions,
    id=text,
    description=text,
    actions=st.lists(
        st.builds(Action, text, text, opt_text, st.none() | st.sampled_from(ActionStyle), st.none() | timestamps),
        min_size=1,
        max_size=10,
        unique_by=lambda a: a.id,
    ).map(tuple),
    expires_at=st.none() | timestamps,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=12,
)
intents = st.builds(Intent, text, text, st.none() | st.dictionaries(text, json_values, max_size=4))

VALUES: dict[ContentTypeId, st.SearchStrategy[Any]] = {
    TEXT: text,
    MARKDOWN: st.builds(Markdown, text),
    REACTION_V1: reactions_v1,
    REACTION_V2: reactions_v2,
    REPLY: st.builds(Reply, text, encoded_contents, opt_text),
    READ_RECEIPT: st.just(ReadReceipt()),
    ATTACHMENT: st.builds(Attachment, text, st.binary(max_size=256), opt_text),
    REMOTE_ATTACHMENT: remote_attachments,
    MULTI_REMOTE_ATTACHMENT: st.builds(MultiRemoteAttachment, tuples(remote_attachments)),
    TRANSACTION_REFERENCE: transaction_references,
    WALLET_SEND_CALLS: wallet_send_calls,
    GROUP_UPDATED: group_updates,
    GROUP_MEMBERSHIP_CHANGE: membership_changes,
    LEAVE_REQUEST: st.builds(LeaveRequest, st.none() | st.binary(max_size=64)),
    DELETE_MESSAGE: st.builds(DeleteMessage, text),
    ACTIONS: actions,
    INTENT: intents,
}
