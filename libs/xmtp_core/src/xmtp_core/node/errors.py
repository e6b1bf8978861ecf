"""The node client's error hierarchy and the mapping from gRPC status codes onto it.

`NodeUnavailable` is worth retrying (the node or the network is down, slow or overloaded); `NodeRejected` is not
(the node understood the request and said no). Anything else is a plain `NodeError`, whose `retryable` flag says
whether a retry could help.
"""

from __future__ import annotations

import grpc

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

    def __init__(self, method: str, message: str, code: grpc.StatusCode | None = None) -> None:
        self.method = method
        self.code = code
        self.message = message
        super().__init__(f"{method}: {code.name}: {message}" if code is not None else f"{method}: {message}")

    @property
    def retryable(self) -> bool:
        return self.code in _TRANSIENT_OTHER


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
    return from_status(method, error.code(), error.details())


def from_status(method: str, code: grpc.StatusCode, details: str | None) -> NodeError:
    message = details or code.name
    if code in _UNAVAILABLE:
        return NodeUnavailable(method, message, code)
    if code in _REJECTED:
        return NodeRejected(method, message, code)
    return NodeError(method, message, code)


def client_closed(method: str) -> NodeError:
    """The `NodeClient` (its channel) was closed before or during the call."""
    return NodeError(method, "the node client is closed")


def bad_response(method: str, message: str) -> NodeError:
    """The node answered, but not in the shape the API promises (e.g. the wrong number of results)."""
    return NodeError(method, f"bad response: {message}")
