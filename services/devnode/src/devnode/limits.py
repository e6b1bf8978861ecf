"""Size, count and paging limits devnode enforces on every request, response and stream.

Payloads follow XMTP's network (about 1 MB per message: `xmtp_core.content.limits.MAX_MESSAGE_BYTES`, the
one definition); the page size is xmtp-node-go's; the rest bound what one client can make the node hold.
"""

from __future__ import annotations

from xmtp_core.content.limits import MAX_MESSAGE_BYTES
from xmtp_core.node.multiplex import MAX_TOPICS_PER_STREAM

MAX_PAGE_SIZE = 100
MAX_PAYLOAD_BYTES = MAX_MESSAGE_BYTES  # one message, welcome, key package or commit-log entry
MAX_REQUEST_BYTES = 25 * 1024 * 1024  # a whole request (libxmtp's GRPC_PAYLOAD_LIMIT); larger: INVALID_ARGUMENT
# gRPC's own cap sits above ours so oversize requests reach the handler and get a clear reason.
GRPC_MAX_MESSAGE_BYTES = 32 * 1024 * 1024
MAX_RESPONSE_BYTES = 24 * 1024 * 1024  # query pages are cut short (with a cursor) to stay below gRPC's cap

# Entries of one request's repeated field (group ids, installation keys, inbox ids, commit-log queries):
# each one costs a lookup and part of the response, so a short request may not ask for unbounded work.
MAX_IDS_PER_REQUEST = 1000

# Streams: every topic of a subscription is an index entry and every subscription a queue, held as long as
# the client keeps the stream open. A subscriber further behind than its queue holds is cut off.
MAX_TOPIC_BYTES = 256  # a group id, installation key or inbox id in a filter or query (real ones: 32-64)
MAX_SMALL_FIELD_BYTES = 4096  # a sender_hmac, HPKE public key (X-Wing: 1216) or welcome metadata
MAX_TOPICS_PER_SUBSCRIPTION = MAX_TOPICS_PER_STREAM  # the network's cap, which our clients shard by
MAX_SUBSCRIPTIONS_PER_PEER = 64  # per client connection (gRPC peer), per stream kind
MAX_SUBSCRIPTIONS = 1024  # per stream kind, over all clients
MAX_SUBSCRIBER_QUEUED_ROWS = 4096
MAX_SUBSCRIBER_QUEUED_BYTES = 8 * MAX_PAYLOAD_BYTES
MAX_BROKER_QUEUED_BYTES = 256 * 1024 * 1024  # per stream kind, over all subscribers
