"""The GroupUpdated transcript entry of a commit, built in one place for commits we receive and for our own
(the runtime calls :func:`own_commit_update` when the echo of a commit it made comes back)."""

from __future__ import annotations

from collections.abc import Iterable

from xmtp_core.content.codecs.group import GroupUpdated
from xmtp_core.mls.extensions import Extension
from xmtp_core.mls.group import Group
from xmtp_core.xmtp_mls.changes import summarize_commit
from xmtp_core.xmtp_mls.extensions import GroupExtensions, parse_group_extensions
from xmtp_core.xmtp_mls.group_updated import group_updated_from_commit


def commit_update(before: GroupExtensions, after: GroupExtensions, actor_inbox_id: str) -> GroupUpdated:
    """What a commit by ``actor_inbox_id`` changed, as libxmtp shows it. Raises XmtpMlsError (a sequence id
    went down, the immutable metadata changed): receivers validate first, so only a bug reaches that."""
    return group_updated_from_commit(summarize_commit(before, after, actor_inbox_id))


def own_commit_update(before_extensions: Iterable[Extension], after_group: Group, own_inbox_id: str) -> GroupUpdated:
    """The GroupUpdated of a commit this installation made: the group-context extensions it was made on, and
    the group after merging it."""
    before = parse_group_extensions(before_extensions)
    return commit_update(before, parse_group_extensions(after_group.extensions), own_inbox_id)
