"""Endpoint resolution (XMTP_ENV / XMTP_API_URL), URL parsing, channel options and call metadata."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from xmtp_core.node import DEFAULT_API_URLS, Endpoint, NodeClient, NodeEnvSettings, NodeSettings, resolve_api_url


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[pytest.MonkeyPatch]:
    for name in ("XMTP_ENV", "XMTP_API_URL", "XMTP_APP_VERSION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(str(tmp_path))  # no stray .env file
    yield monkeypatch


@pytest.mark.parametrize(
    ("xmtp_env", "target", "secure"),
    [
        ("local", "localhost:5556", False),
        ("dev", "grpc.dev.xmtp.network:443", True),
        ("production", "grpc.production.xmtp.network:443", True),
        ("PRODUCTION", "grpc.production.xmtp.network:443", True),
    ],
)
def test_env_picks_the_default_url(env: pytest.MonkeyPatch, xmtp_env: str, target: str, secure: bool) -> None:
    env.setenv("XMTP_ENV", xmtp_env)
    endpoint = NodeSettings.from_env().endpoint
    assert (endpoint.target, endpoint.secure) == (target, secure)
    assert endpoint.url == DEFAULT_API_URLS[xmtp_env.lower()]


def test_default_env_is_dev(env: pytest.MonkeyPatch) -> None:
    assert NodeSettings.from_env().endpoint.url == DEFAULT_API_URLS["dev"]


def test_api_url_overrides_env(env: pytest.MonkeyPatch) -> None:
    env.setenv("XMTP_ENV", "production")
    env.setenv("XMTP_API_URL", "http://127.0.0.1:7777")
    env.setenv("XMTP_APP_VERSION", "switchboard/0.1")
    settings = NodeSettings.from_env()
    assert (settings.endpoint.target, settings.endpoint.secure) == ("127.0.0.1:7777", False)
    assert settings.app_version == "switchboard/0.1"
    assert NodeSettings.from_env(app_version="explicit").app_version == "explicit"


@pytest.mark.parametrize("bad", ["staging", "testnet", "mainnet"])
def test_unknown_and_d14n_envs_are_refused(env: pytest.MonkeyPatch, bad: str) -> None:
    env.setenv("XMTP_ENV", bad)
    with pytest.raises(ValueError, match=bad):
        NodeEnvSettings()


@pytest.mark.parametrize(
    ("url", "target", "secure"),
    [
        ("http://localhost:5556", "localhost:5556", False),
        ("https://node.example.org", "node.example.org:443", True),
        ("http://node.example.org/", "node.example.org:80", False),
        ("http://[::1]:5556", "[::1]:5556", False),
    ],
)
def test_endpoint_parsing(url: str, target: str, secure: bool) -> None:
    endpoint = Endpoint.parse(url)
    assert (endpoint.target, endpoint.secure) == (target, secure)


@pytest.mark.parametrize(
    "url", ["localhost:5556", "grpc://host:1", "http://", "http://host:99999", "http://host/path", "http://h?q=1"]
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        Endpoint.parse(url)


def test_bad_api_url_in_env_is_refused(env: pytest.MonkeyPatch) -> None:
    env.setenv("XMTP_API_URL", "localhost:5556")
    with pytest.raises(ValueError):
        NodeEnvSettings()


def test_resolve_api_url() -> None:
    assert resolve_api_url("local") == "http://localhost:5556"
    assert resolve_api_url("local", " https://x:1 ") == "https://x:1"
    with pytest.raises(ValueError):
        resolve_api_url("nowhere")


def test_channel_options_and_metadata() -> None:
    settings = NodeSettings.for_url(
        "http://h:1", app_version="agent/1.0", libxmtp_version="1.9.1", max_send_bytes=1000, keepalive_time_ms=5000
    )
    options = dict(settings.channel_options())
    assert options["grpc.max_send_message_length"] == 1000
    assert options["grpc.max_receive_message_length"] == settings.max_receive_bytes
    assert options["grpc.keepalive_time_ms"] == 5000
    assert options["grpc.primary_user_agent"] == "agent/1.0"
    assert settings.metadata() == (("x-app-version", "agent/1.0"), ("x-libxmtp-version", "1.9.1"))
    assert NodeSettings.for_url("http://h:1").metadata() == ()


@pytest.mark.parametrize(
    "overrides",
    [
        {"max_send_bytes": 0},
        {"keepalive_timeout_ms": -1},
        {"call_timeout_s": 0.0},
        {"min_reconnect_backoff_ms": 10, "max_reconnect_backoff_ms": 5},
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        NodeSettings.for_url("http://h:1", **overrides)


async def test_headers_reach_the_node() -> None:
    """A bare gRPC server records what the client sends with each call."""
    seen: list[dict[str, str]] = []

    async def handler(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        seen.append({k: str(v) for k, v in context.invocation_metadata() or ()})
        return b""

    method = grpc.unary_unary_rpc_method_handler(handler)
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("xmtp.mls.api.v1.MlsApi", {"UploadKeyPackage": method})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        async with NodeClient.for_url(url, app_version="agent/2", libxmtp_version="1.9.1") as client:
            await client.upload_key_package(b"kp")
    finally:
        await server.stop(None)
    assert seen[0]["x-app-version"] == "agent/2"
    assert seen[0]["x-libxmtp-version"] == "1.9.1"
