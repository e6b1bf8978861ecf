"""`xmtp_core.runtime`: a one-process driver of one installation (the crypto service will wrap it).

- `runtime.Runtime`: `register()` / `open()`, `sync_welcomes()`, `sync_group()`, `sync_all()`, `stream()`,
  `create_dm()`, `create_group()`, `send()`, members / metadata / admin / permission ops, `resume()`;
  node + store + engine, one transaction per envelope under the conversation lock.
- `identity.NodeIdentityResolver`: the engine's identity look-ups from the node's verified identity logs.
"""

from xmtp_core.runtime.identity import NodeIdentityResolver
from xmtp_core.runtime.runtime import Runtime, SendResult, group_topic, welcome_topic

__all__ = ["NodeIdentityResolver", "Runtime", "SendResult", "group_topic", "welcome_topic"]
