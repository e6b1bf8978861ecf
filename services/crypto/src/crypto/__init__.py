"""The crypto service: the only owner of MLS state and intents.

- `agents`: each agent's installation (registered once, under a lock) and its `Runtime` on its own database.
- `events`: the runtime's events as bus events (`xmtp_core.bus.schemas`).
- `relay`: the outbox to SB_EV, in order per conversation, exactly once (msg id = agent + event id).
- `sender`: built envelopes to SB_PUB for the publisher, waiting for its result.
- `commands`: outbound commands (SB_OUT) -> sends; results to the sender's reply subject and KV.
- `ops`: conversation operations (`sb.ops.<agent>` request/reply).
- `service`: wiring: SB_IN consumed per partition through each agent's runtime.
"""
