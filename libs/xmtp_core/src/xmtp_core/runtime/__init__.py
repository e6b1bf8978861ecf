"""`xmtp_core.runtime`: a one-process driver of one installation (the crypto service's core).

- `runtime.Runtime`: `register()` / `open()`, `sync_welcomes()`, `sync_group()`, `sync_all()`, `stream()`,
  `create_dm()`, `create_group()`, `send()`, members / metadata / admin / permission ops, `resume()`.
- Its parts, one role each: `core` (shared state and helpers), `installation` (keys, key packages),
  `inbound` (one envelope, atomically, under the `guard`), `outbound` (intents built and published),
  `sync` (pulls to the node's head, settling intents), `outbox` (events' durable form and ids),
  `group_cache` (current groups in memory while they match the store).
- `identity.NodeIdentityResolver`: the engine's identity look-ups from the node's verified identity logs.
"""

from xmtp_core.runtime.core import UnknownConversation, group_topic, welcome_topic
from xmtp_core.runtime.guard import Transient
from xmtp_core.runtime.identity import NodeIdentityResolver
from xmtp_core.runtime.runtime import Runtime, SendResult

__all__ = [
    "NodeIdentityResolver",
    "Runtime",
    "SendResult",
    "Transient",
    "UnknownConversation",
    "group_topic",
    "welcome_topic",
]
