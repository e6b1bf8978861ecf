"""The node client's error hierarchy and the mapping from gRPC status codes onto it.

`NodeUnavailable` is worth retrying (the node or the network is down, slow or overloaded); `NodeRejected` is not
(the node understood the request and said no). Anything else is a plain `NodeError`, whose `retryable` flag says
whether a retry could help. A RESOURCE_EXHAUSTED answer is the network's 429 (`rate_limited`); its
`retry-after` trailer (seconds, as devnode sends it) is `retry_after_s`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import grpc

RETRY_AFTER_KEY = "retry-after"
MAX_RETRY_AFTER_S = 3600.0  # a hint past an hour is the server's mistake; never wait longer on its word
_UNAVAILABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
    }
)
_REJECTED = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
# A stream torn down mid-flight (RST_STREAM, a dropped proxy) often surfaces as INTERNAL or UNKNOWN.
_TRANSIENT_OTHER = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN})


class NodeError(Exception):
    """A call to the XMTP node failed; `code` is the gRPC status (None for a malformed response)."""

    def __init__(
        self, method: str, message: str, code: grpc.StatusCode | None = None, retry_after_s: float | None = None
    ) -> None:
        self.method = method
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s
        super().__init__(f"{method}: {code.name}: {message}" if code is not None else f"{method}: {message}")

    @property
    def retryable(self) -> bool:
        return self.code in _TRANSIENT_OTHER

    @property
    def rate_limited(self) -> bool:
        """The node refused for the rate limit (its 429): retry after `retry_after_s`."""
        return self.code == grpc.StatusCode.RESOURCE_EXHAUSTED


class NodeUnavailable(NodeError):
    """The node could not be reached or did not answer in time; retrying later may succeed."""

    @property
    def retryable(self) -> bool:
        return True


class NodeRejected(NodeError):
    """The node refused the request (bad input, unsupported call, not allowed); retrying will not help."""

    @property
    def retryable(self) -> bool:
        return False


def from_rpc_error(method: str, error: grpc.aio.AioRpcError) -> NodeError:
    return from_status(method, error.code(), error.details(), retry_after(error.trailing_metadata() or ()))


def from_status(
    method: str, code: grpc.StatusCode, details: str | None, retry_after_s: float | None = None
) -> NodeError:
    message = details or code.name
    if code in _UNAVAILABLE:
        return NodeUnavailable(method, message, code, retry_after_s)
    if code in _REJECTED:
        return NodeRejected(method, message, code)
    return NodeError(method, message, code)


def retry_after(metadata: Iterable[tuple[str, str | bytes]]) -> float | None:
    """The `retry-after` trailer in seconds (bounded), None when absent or not a number."""
    for key, value in metadata:
        if key.lower() != RETRY_AFTER_KEY:
            continue
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        with contextlib.suppress(ValueError):
            seconds = float(text[:32])
            if seconds == seconds:  # not NaN
                return min(MAX_RETRY_AFTER_S, max(0.0, seconds))
    return None


def client_closed(method: str) -> NodeError:
    """The `NodeClient` (its channel) was closed before or during the call."""
    return NodeError(method, "the node client is closed")


def bad_response(method: str, message: str) -> NodeError:
    """The node answered, but not in the shape the API promises (e.g. the wrong number of results)."""
    return NodeError(method, f"bad response: {message}")
