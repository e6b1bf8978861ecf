"""Conversions between stored rows and the xmtp.mls.api.v1 protobuf messages, and request paging."""

from __future__ import annotations

from xmtp_core.protos.identity.associations import signature_pb2
from xmtp_core.protos.mls.api.v1 import mls_pb2
from xmtp_core.protos.mls.message_contents import commit_log_pb2

from devnode.limits import MAX_PAGE_SIZE
from devnode.models import CommitLogRow, GroupMessageRow, Paging, WelcomeKind, WelcomeRow

MAX_ID = 2**63 - 1  # ids are Postgres bigints; a larger uint64 cursor means "after everything"
ASC = mls_pb2.SORT_DIRECTION_ASCENDING
DESC = mls_pb2.SORT_DIRECTION_DESCENDING


def paging_from(info: mls_pb2.PagingInfo, *, default_ascending: bool = False) -> Paging:
    """xmtp-node-go semantics: unspecified direction is descending, limit 0 or above 100 means 100."""
    if info.direction == ASC:
        ascending = True
    elif info.direction == DESC:
        ascending = False
    else:
        ascending = default_ascending
    limit = info.limit if 0 < info.limit <= MAX_PAGE_SIZE else MAX_PAGE_SIZE
    return Paging(ascending=ascending, limit=limit, cursor=min(info.id_cursor, MAX_ID))


def paging_reply(paging: Paging, ids: list[int], truncated: bool = False) -> mls_pb2.PagingInfo:
    """The next-page cursor is the last id, and (as in node-go) only set when the page came back full."""
    cursor = ids[-1] if ids and (truncated or len(ids) >= paging.limit) else 0
    return mls_pb2.PagingInfo(direction=ASC if paging.ascending else DESC, limit=paging.limit, id_cursor=cursor)


def group_message(row: GroupMessageRow) -> mls_pb2.GroupMessage:
    return mls_pb2.GroupMessage(
        v1=mls_pb2.GroupMessage.V1(
            id=row.id,
            created_ns=row.created_ns,
            group_id=row.group_id,
            data=row.data,
            sender_hmac=row.sender_hmac,
            should_push=row.should_push,
            is_commit=row.is_commit,
        )
    )


def welcome_message(row: WelcomeRow) -> mls_pb2.WelcomeMessage:
    if row.kind == WelcomeKind.POINTER:
        return mls_pb2.WelcomeMessage(
            welcome_pointer=mls_pb2.WelcomeMessage.WelcomePointer(
                id=row.id,
                created_ns=row.created_ns,
                installation_key=row.installation_key,
                welcome_pointer=row.data,
                hpke_public_key=row.hpke_public_key,
                wrapper_algorithm=row.wrapper_algorithm,  # type: ignore[arg-type]
            )
        )
    return mls_pb2.WelcomeMessage(
        v1=mls_pb2.WelcomeMessage.V1(
            id=row.id,
            created_ns=row.created_ns,
            installation_key=row.installation_key,
            data=row.data,
            hpke_public_key=row.hpke_public_key,
            wrapper_algorithm=row.wrapper_algorithm,  # type: ignore[arg-type]
            welcome_metadata=row.welcome_metadata,
        )
    )


def commit_log_entry(row: CommitLogRow) -> commit_log_pb2.CommitLogEntry:
    signature = signature_pb2.RecoverableEd25519Signature.FromString(row.serialized_signature)
    return commit_log_pb2.CommitLogEntry(
        sequence_id=row.id, serialized_commit_log_entry=row.serialized_entry, signature=signature
    )
