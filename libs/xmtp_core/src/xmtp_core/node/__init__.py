"""xmtp_core.node: the async gRPC client of the XMTP V3 node API (MlsApi + IdentityApi).

- `settings`: XMTP_ENV / XMTP_API_URL resolution, transport, limits, keepalive, metadata (`NodeSettings`).
- `client`: `NodeClient`, one method per node call, results as plain dataclasses (`models`).
- `subscription`: `Subscription`, resumable group / welcome streams with reconnect backoff (`backoff`).
- `multiplex`: `SharedSubscriptions`, many readers' topics on a few shared streams (one per kind and 10,000
  topics), each `SharedReader` iterated like its own `Subscription`.
- `errors`: `NodeError`, `NodeUnavailable` (retryable), `NodeRejected` (not retryable); `rate_limited` and
  `retry_after_s` for the network's 429.
- `pacing`: `Pacer` / `Pacers`, per-installation rolling-window gates under XMTP's rate limits (`RateLimit`,
  `PacingEnvSettings`).

No MLS or identity logic lives here: payloads go through as bytes or protos.

Typical use (ingest)::

    async with NodeClient.from_env(app_version="switchboard/0.1") as node:
        async with node.subscribe_group_messages(saved_cursors) as sub:
            async for message in sub:  # ascending per group; resumes after restarts and reconnects
                handle(message)
                save_cursor(message.group_id, message.id)
                # sub.add(new_group_id) / sub.remove(group_id) at any time
"""

from xmtp_core.node.backoff import Backoff, BackoffPolicy, retry
from xmtp_core.node.client import MAX_PAGE_SIZE, MessageStream, NodeClient
from xmtp_core.node.errors import NodeError, NodeRejected, NodeUnavailable
from xmtp_core.node.models import (
    ETHEREUM,
    PASSKEY,
    CommitLogEntry,
    CommitLogPage,
    CommitLogPublish,
    GroupMessage,
    IdentityUpdateLog,
    NewGroupMessage,
    NewWelcome,
    NewWelcomePointer,
    Page,
    ScwSignature,
    ScwVerification,
    WelcomeKind,
    WelcomeMessage,
)
from xmtp_core.node.multiplex import SharedReader, SharedSubscriptions
from xmtp_core.node.pacing import Pacer, Pacers, PacingConfig, PacingEnvSettings, RateLimit, RollingWindow
from xmtp_core.node.settings import DEFAULT_API_URLS, Endpoint, NodeEnvSettings, NodeSettings, resolve_api_url
from xmtp_core.node.subscription import Subscription, TopicStream

__all__ = [
    "DEFAULT_API_URLS",
    "ETHEREUM",
    "MAX_PAGE_SIZE",
    "PASSKEY",
    "Backoff",
    "BackoffPolicy",
    "CommitLogEntry",
    "CommitLogPage",
    "CommitLogPublish",
    "Endpoint",
    "GroupMessage",
    "IdentityUpdateLog",
    "MessageStream",
    "NewGroupMessage",
    "NewWelcome",
    "NewWelcomePointer",
    "NodeClient",
    "NodeEnvSettings",
    "NodeError",
    "NodeRejected",
    "NodeSettings",
    "NodeUnavailable",
    "Pacer",
    "Pacers",
    "PacingConfig",
    "PacingEnvSettings",
    "Page",
    "RateLimit",
    "RollingWindow",
    "ScwSignature",
    "ScwVerification",
    "SharedReader",
    "SharedSubscriptions",
    "Subscription",
    "TopicStream",
    "WelcomeKind",
    "WelcomeMessage",
    "resolve_api_url",
    "retry",
]
