"""Where the XMTP node is and how to talk to it: XMTP_ENV / XMTP_API_URL resolution, transport and channel options.

`NodeEnvSettings` (pydantic-settings) is the edge that reads the environment; everything inside the library uses
the plain `NodeSettings` dataclass, which also builds the gRPC channel options and call metadata.

Endpoint resolution follows the Agent SDK / libxmtp: XMTP_ENV picks a default URL, XMTP_API_URL overrides it.
`http://` means HTTP/2 with prior knowledge (h2c, an insecure channel); `https://` means TLS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

XmtpEnv = Literal["local", "dev", "production"]

# libxmtp's V3 (node-go) URLs. `local` is from the reference (xmtp_configuration GrpcUrlsLocal::NODE); dev is
# libxmtp's DEV_ADDRESS; production follows the same naming (not stated in the reference notes).
DEFAULT_API_URLS: dict[str, str] = {
    "local": "http://localhost:5556",
    "dev": "https://grpc.dev.xmtp.network:443",
    "production": "https://grpc.production.xmtp.network:443",
}
# node-sdk's default env.
DEFAULT_ENV: XmtpEnv = "dev"
# The d14n environments of the Agent SDK speak a different API (xmtpd), which this client does not implement.
D14N_ENVS = frozenset({"testnet-staging", "testnet-dev", "testnet", "mainnet"})

# libxmtp caps gRPC payloads at 25 MiB; we accept somewhat larger responses so a generous node does not break us.
DEFAULT_MAX_SEND_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_RECEIVE_BYTES = 50 * 1024 * 1024
# A ping every minute finds dead connections on long-idle streams without tripping servers' ping policing.
DEFAULT_KEEPALIVE_TIME_MS = 60_000
DEFAULT_KEEPALIVE_TIMEOUT_MS = 20_000
DEFAULT_CALL_TIMEOUT_S = 30.0
# gRPC's own reconnect backoff defaults to 1 s..120 s; a subscription has its own backoff on top, so keep it short.
DEFAULT_MIN_RECONNECT_BACKOFF_MS = 200
DEFAULT_MAX_RECONNECT_BACKOFF_MS = 5_000

APP_VERSION_HEADER = "x-app-version"
LIBXMTP_VERSION_HEADER = "x-libxmtp-version"


@dataclass(frozen=True)
class Endpoint:
    """A parsed API URL: the gRPC target (`host:port`) and whether the channel uses TLS."""

    target: str
    secure: bool
    url: str

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"XMTP API URL must start with http:// or https://, got {url!r}")
        if not parts.hostname:
            raise ValueError(f"XMTP API URL has no host: {url!r}")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"XMTP API URL must not have a path, query or fragment: {url!r}")
        secure = parts.scheme == "https"
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"XMTP API URL has a bad port: {url!r}") from exc
        if port is None:
            port = 443 if secure else 80
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return cls(target=f"{host}:{port}", secure=secure, url=url.strip())


def resolve_api_url(env: str | None = None, api_url: str | None = None) -> str:
    """The URL to use: `api_url` when given, else the default of `env` (default `dev`, like node-sdk)."""
    if api_url:
        return api_url.strip()
    name = (env or DEFAULT_ENV).strip().lower()
    if name in D14N_ENVS:
        raise ValueError(f"XMTP_ENV={name!r} is a decentralized (xmtpd) network; this client speaks the V3 node API")
    if name not in DEFAULT_API_URLS:
        raise ValueError(f"XMTP_ENV must be one of {sorted(DEFAULT_API_URLS)}, got {name!r}")
    return DEFAULT_API_URLS[name]


@dataclass(frozen=True)
class NodeSettings:
    """Everything `NodeClient` needs to open a channel; build it with `from_env()` or `for_url()`."""

    endpoint: Endpoint
    app_version: str | None = None
    libxmtp_version: str | None = None
    max_send_bytes: int = DEFAULT_MAX_SEND_BYTES
    max_receive_bytes: int = DEFAULT_MAX_RECEIVE_BYTES
    keepalive_time_ms: int = DEFAULT_KEEPALIVE_TIME_MS
    keepalive_timeout_ms: int = DEFAULT_KEEPALIVE_TIMEOUT_MS
    call_timeout_s: float | None = DEFAULT_CALL_TIMEOUT_S
    # False: a call fails at once (NodeUnavailable) while the node is unreachable. True: it waits for the
    # connection until its timeout, which rides out a node restart but hides a wrong URL until then.
    wait_for_ready: bool = False
    min_reconnect_backoff_ms: int = DEFAULT_MIN_RECONNECT_BACKOFF_MS
    max_reconnect_backoff_ms: int = DEFAULT_MAX_RECONNECT_BACKOFF_MS
    root_certificates: bytes | None = None  # PEM; None = the system's roots (only used for https://)
    extra_options: tuple[tuple[str, int | str], ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("max_send_bytes", "max_receive_bytes", "keepalive_time_ms", "keepalive_timeout_ms"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.call_timeout_s is not None and self.call_timeout_s <= 0:
            raise ValueError("call_timeout_s must be positive or None")
        if not 0 < self.min_reconnect_backoff_ms <= self.max_reconnect_backoff_ms:
            raise ValueError("need 0 < min_reconnect_backoff_ms <= max_reconnect_backoff_ms")

    @classmethod
    def for_url(cls, url: str, **overrides: Any) -> NodeSettings:
        return cls(endpoint=Endpoint.parse(url), **overrides)

    @classmethod
    def from_env(cls, **overrides: Any) -> NodeSettings:
        """Read XMTP_ENV / XMTP_API_URL / XMTP_APP_VERSION from the environment (or a .env file)."""
        return NodeEnvSettings().to_settings(**overrides)

    def channel_options(self) -> list[tuple[str, int | str]]:
        options: list[tuple[str, int | str]] = [
            ("grpc.max_send_message_length", self.max_send_bytes),
            ("grpc.max_receive_message_length", self.max_receive_bytes),
            ("grpc.keepalive_time_ms", self.keepalive_time_ms),
            ("grpc.keepalive_timeout_ms", self.keepalive_timeout_ms),
            # Only ping while a call is open: idle pings get connections closed by ping-policing servers.
            ("grpc.keepalive_permit_without_calls", 0),
            ("grpc.initial_reconnect_backoff_ms", self.min_reconnect_backoff_ms),
            ("grpc.min_reconnect_backoff_ms", self.min_reconnect_backoff_ms),
            ("grpc.max_reconnect_backoff_ms", self.max_reconnect_backoff_ms),
        ]
        if self.app_version:
            options.append(("grpc.primary_user_agent", self.app_version))
        return options + list(self.extra_options)

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Headers sent on every call (libxmtp sends the same two)."""
        headers: list[tuple[str, str]] = []
        if self.app_version:
            headers.append((APP_VERSION_HEADER, self.app_version))
        if self.libxmtp_version:
            headers.append((LIBXMTP_VERSION_HEADER, self.libxmtp_version))
        return tuple(headers)


class NodeEnvSettings(BaseSettings):
    """The environment edge: XMTP_ENV, XMTP_API_URL and an optional XMTP_APP_VERSION."""

    model_config = SettingsConfigDict(env_prefix="XMTP_", env_file=".env", extra="ignore")

    env: str = Field(default=DEFAULT_ENV)
    api_url: str | None = None
    app_version: str | None = None

    @field_validator("env")
    @classmethod
    def _known_env(cls, value: str) -> str:
        name = value.strip().lower()
        resolve_api_url(name)  # raises a clear error for unknown and d14n environments
        return name

    @field_validator("api_url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        Endpoint.parse(value)
        return value.strip()

    def to_settings(self, **overrides: Any) -> NodeSettings:
        url = resolve_api_url(self.env, self.api_url)
        if self.app_version is not None:
            overrides.setdefault("app_version", self.app_version)
        return NodeSettings.for_url(url, **overrides)
