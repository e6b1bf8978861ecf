"""compose.yaml runs what `make run` runs: each service's command and variables, as `stack.run_stack` spawns them
(captured here, no process started), are those of the compose service as Compose itself resolves the file. Also:
secrets come only from the environment / .env, XMTP_ENV switches the network by itself, every dependency waits
for health, and `compose-secrets` writes a complete .env without printing a secret."""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from switchboard import cli, stack

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("validate_deploy", ROOT / "scripts" / "validate_deploy.py")
assert _spec and _spec.loader
vd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vd)

# Least privilege: compose gives the agent's keys and the database only to crypto (devnode gets its database
# as the flag `make run` gives it); `make run` hands every child the same environment.
CRYPTO_ONLY = {"XMTP_WALLET_KEY", "XMTP_DB_ENCRYPTION_KEY", "DATABASE_URL"}
URL_VARS = {"NATS_URL", "DATABASE_URL", "XMTP_API_URL"}  # same scheme and port; the host is the container's


def _make_run_spawns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """What `switchboard run` (defaults of the CLI) spawns: service -> (argv after `switchboard`, variables it set)."""
    for name in list(os.environ):
        if name.startswith(("XMTP_", "SB_", "NATS_", "DATABASE_")):
            monkeypatch.delenv(name)
    spawned: dict[str, tuple[list[str], dict[str, str]]] = {}
    base = dict(os.environ)

    def spawn(self: stack.Supervisor, name: str, *args: str) -> None:
        spawned[name] = (list(args), {k: v for k, v in self.env.items() if base.get(k) != v})

    @contextlib.contextmanager
    def dev_services(state_dir: Path) -> Iterator[Any]:
        yield SimpleNamespace(nats_url="nats://127.0.0.1:4222", database_url="postgresql://u:p@127.0.0.1:5432/db")

    def echo(line: str) -> None:
        if line.startswith("Ctrl-C"):
            raise KeyboardInterrupt  # stop right after start-up

    monkeypatch.setattr(stack.Supervisor, "spawn", spawn)
    monkeypatch.setattr(stack, "dev_services", dev_services)
    monkeypatch.setattr(stack, "_wait_port", lambda *a, **k: None)
    monkeypatch.setattr(stack, "_agent_record", lambda *a, **k: ("0xabc", "inbox"))
    defaults = {n: p.default.default for n, p in inspect.signature(cli.run).parameters.items()}
    stack.run_stack(
        defaults["listen"], defaults["app_spec"], defaults["agent"], tmp_path / "state", tmp_path / ".env", echo
    )
    return spawned


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    return vd.compose_config(ROOT / "compose.yaml")


def test_compose_runs_the_commands_and_variables_of_make_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, resolved: dict[str, Any]
) -> None:
    spawned = _make_run_spawns(monkeypatch, tmp_path)
    assert set(spawned) == {"devnode", *stack.SERVICES}
    services = resolved["services"]
    for name, (argv, made) in spawned.items():
        command = services[name]["command"]
        env = services[name].get("environment") or {}
        if name == "devnode":  # the same flags; listen addresses differ by host, the database by host too
            flags, want = (
                dict(zip(command[1::2], command[2::2], strict=True)),
                dict(zip(argv[1::2], argv[2::2], strict=True)),
            )
            assert command[0] == argv[0] == "devnode" and set(flags) == set(want)
            for flag, value in want.items():
                if flag.endswith("listen"):
                    assert flags[flag].rsplit(":", 1)[1] == value.rsplit(":", 1)[1], flag
                else:
                    assert urlsplit(flags[flag]).scheme == urlsplit(value).scheme, flag
            continue
        assert command == argv, name
        for var, value in made.items():
            if var in CRYPTO_ONLY and name != "crypto":
                assert var not in env, f"{name} must not get {var}"
                continue
            assert var in env, f"compose's {name} lacks {var}, which make run sets"
            if var in URL_VARS:
                got, want = urlsplit(env[var]), urlsplit(value)
                assert (got.scheme, got.port) == (want.scheme, want.port), (name, var)
            elif var not in ("XMTP_WALLET_KEY", "XMTP_DB_ENCRYPTION_KEY"):
                assert env[var] == value, (name, var)


def test_every_service_waits_for_what_it_needs(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    for name in ("crypto", "publisher", "ingest", "router"):
        deps = services[name]["depends_on"]
        assert deps["nats"]["condition"] == "service_healthy"
        assert deps["devnode"]["condition"] == "service_healthy"
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http://otel-collector")
        assert services[name]["environment"]["NATS_URL"].startswith(f"nats://{name}:")  # its own NATS user
    assert services["crypto"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["ingest"]["depends_on"]["crypto"]["condition"] == "service_healthy"
    for name in ("postgres", "nats", "devnode"):
        assert services[name]["healthcheck"]["test"], name


def test_xmtp_env_alone_switches_the_network() -> None:
    local = vd.compose_config(ROOT / "compose.yaml")["services"]
    dev = vd.compose_config(ROOT / "compose.yaml", XMTP_ENV="dev")["services"]
    for name in ("crypto", "publisher", "ingest"):
        assert local[name]["environment"]["XMTP_API_URL"] == "http://devnode:5556"
        assert dev[name]["environment"]["XMTP_ENV"] == "dev"
        assert "XMTP_API_URL" not in dev[name]["environment"]  # the code's URL for dev


def test_secrets_are_required_not_written_in_the_file() -> None:
    text = (ROOT / "compose.yaml").read_text()
    for name in vd.COMPOSE_SECRETS:
        assert f"${{{name}:?" in text, name
    env = vd.compose_env()
    env.pop("XMTP_WALLET_KEY")
    res = vd.subprocess.run(
        [vd.compose_binary(), "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert res.returncode != 0 and "compose-secrets" in res.stderr


def test_compose_secrets_writes_every_secret_compose_needs(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    result = CliRunner().invoke(cli.app, ["compose-secrets", "--env-file", str(env_file)])
    assert result.exit_code == 0, result.output
    values = stack._read_env_file(env_file)
    assert set(vd.COMPOSE_SECRETS) <= set(values) and all(values[n] for n in vd.COMPOSE_SECRETS)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert not any(values[n] in result.output for n in vd.COMPOSE_SECRETS)
    again = CliRunner().invoke(cli.app, ["compose-secrets", "--env-file", str(env_file)])
    assert stack._read_env_file(env_file) == values and "already" in again.output
    # .env.example names every secret, with no value
    example = stack._read_env_file(ROOT / ".env.example")
    assert all(example.get(n, None) == "" for n in vd.COMPOSE_SECRETS)


def test_nats_config_is_valid_and_the_validator_catches_a_broken_one(tmp_path: Path) -> None:
    conf = ROOT / "deploy" / "k8s" / "overlays" / "local" / "nats.conf"
    assert vd.validate_nats_conf(conf).returncode == 0
    bad = tmp_path / "nats.conf"
    bad.write_text(conf.read_text().replace("authorization {", "authorization {{"))
    assert vd.validate_nats_conf(bad).returncode != 0
