"""Size and paging limits devnode enforces (chosen for a dev node; xmtp-node-go's page size is 100)."""

from __future__ import annotations

MAX_PAGE_SIZE = 100
MAX_PAYLOAD_BYTES = 5 * 1024 * 1024  # one message, welcome, key package or commit-log entry
MAX_REQUEST_BYTES = 25 * 1024 * 1024  # a whole request; larger ones are INVALID_ARGUMENT
# gRPC's own cap sits above ours so oversize requests reach the handler and get a clear reason.
GRPC_MAX_MESSAGE_BYTES = 32 * 1024 * 1024
MAX_RESPONSE_BYTES = 24 * 1024 * 1024  # query pages are cut short (with a cursor) to stay below gRPC's cap
