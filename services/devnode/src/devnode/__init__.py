"""devnode: a local XMTP node speaking XMTP's gRPC API, backed by Postgres, for offline development and tests."""
