"""The deployment files validate offline with the real tools (`make validate` = scripts/validate_deploy.py, which
CI runs through these tests), the validators do fail on broken files, and the rendered overlays hold what
issue 12 asks of them (probes on the health endpoint, requests and limits, PDBs, NetworkPolicies, Secrets only
referenced, a ServiceAccount each, an HPA and KEDA on consumer lag)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("validate_deploy", ROOT / "scripts" / "validate_deploy.py")
assert _spec and _spec.loader
vd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vd)

SERVICES = ("ingest", "crypto", "router", "publisher")
SECRET_VARS = ("NATS_URL", "DATABASE_URL", "XMTP_WALLET_KEY", "XMTP_DB_ENCRYPTION_KEY")


def _rendered(overlay: str, root: Path = vd.K8S) -> list[dict[str, Any]]:
    res = vd.render(root / "overlays" / overlay)
    assert res.returncode == 0, res.stderr
    return [d for d in yaml.safe_load_all(res.stdout) if d]


def _target(selector: dict[str, Any]) -> str | None:
    name: str | None = selector.get("matchLabels", {}).get("app.kubernetes.io/name")
    return name


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_make_validate_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert vd.main() == 0, capsys.readouterr().out


def test_compose_validator_rejects_a_broken_file(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    doc["services"]["crypto"]["depends_on"] = {"no-such-service": {"condition": "service_started"}}
    bad = tmp_path / "compose.yaml"
    bad.write_text(yaml.safe_dump(doc))
    res = vd.validate_compose(bad)
    assert res.returncode != 0
    assert "no-such-service" in (res.stderr + res.stdout)


@pytest.mark.parametrize("overlay", vd.OVERLAYS)
def test_every_overlay_renders_and_validates(overlay: str) -> None:
    assert vd.validate_overlay(vd.K8S / "overlays" / overlay) == []


def _broken_copy(tmp_path: Path, rel: str, edit: Any) -> Path:
    root = tmp_path / "k8s"
    shutil.copytree(vd.K8S, root)
    path = root / rel
    docs = list(yaml.safe_load_all(path.read_text()))
    edit(docs)
    path.write_text(yaml.safe_dump_all(docs))
    return root


def _set(doc_index: int, *path_and_value: Any) -> Any:
    *keys, last, value = path_and_value

    def edit(docs: list[Any]) -> None:
        node = docs[doc_index]
        for key in keys:
            node = node[key]
        node[last] = value

    return edit


BROKEN = {
    "replicas not an integer": ("base/router.yaml", _set(0, "spec", "replicas", "two"), "replicas"),
    "unknown field (strict)": ("base/crypto.yaml", _set(0, "spec", "bogusField", 1), "bogusField"),
    "probe period not an integer": (
        "base/publisher.yaml",
        _set(0, "spec", "template", "spec", "containers", 0, "readinessProbe", "periodSeconds", "often"),
        "periodSeconds",
    ),
    "ScaledObject without consumer": (
        "overlays/production/keda.yaml",
        lambda docs: docs[0]["spec"]["triggers"][0]["metadata"].pop("consumer"),
        "consumer",
    ),
    "ScaledObject unknown field": (
        "overlays/production/keda.yaml",
        _set(1, "spec", "maxReplicas", 4),
        "maxReplicas",
    ),
    "a kind with no schema": (
        "overlays/production/keda.yaml",
        _set(0, "kind", "ScaledThing"),
        "no schema",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_manifest_fails_validation(tmp_path: Path, case: str) -> None:
    rel, edit, expected = BROKEN[case]
    root = _broken_copy(tmp_path, rel, edit)
    overlay = "production" if "production" in rel else "local"
    errors = vd.validate_overlay(root / "overlays" / overlay)
    assert errors and any(expected in e for e in errors), errors


def test_a_missing_resource_fails_rendering(tmp_path: Path) -> None:
    root = tmp_path / "k8s"
    shutil.copytree(vd.K8S, root)
    (root / "base" / "router.yaml").unlink()
    errors = vd.validate_overlay(root / "overlays" / "local")
    assert errors and errors[0].startswith("kustomize:")


@pytest.mark.parametrize("overlay", vd.OVERLAYS)
def test_rendered_overlay_holds_what_the_issue_asks(overlay: str) -> None:
    docs = _rendered(overlay)
    deployments = _by_kind(docs, "Deployment")
    accounts = _by_kind(docs, "ServiceAccount")
    pdbs = {_target(d["spec"]["selector"]) for d in docs if d["kind"] == "PodDisruptionBudget"}
    policies = {_target(d["spec"]["podSelector"]) for d in docs if d["kind"] == "NetworkPolicy"}
    assert not [d for d in docs if d["kind"] == "Secret"], "Secrets are referenced, never inlined"
    assert "default-deny" in _by_kind(docs, "NetworkPolicy")
    for name in SERVICES:
        pod = deployments[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert pod["serviceAccountName"] == name and name in accounts
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        for env in container["env"]:
            if env["name"] in SECRET_VARS:
                assert "secretKeyRef" in env["valueFrom"], (name, env["name"])
        assert name in pdbs and name in policies
    if overlay == "local":
        assert {"nats", "postgres"} <= set(_by_kind(docs, "StatefulSet"))
        assert _by_kind(docs, "HorizontalPodAutoscaler")["router"]["spec"]["scaleTargetRef"]["name"] == "router"
    else:
        assert not _by_kind(docs, "StatefulSet") and "devnode" not in deployments
        scaled = _by_kind(docs, "ScaledObject")
        assert set(scaled) == {"router", "crypto"}
        for obj in scaled.values():
            assert {t["type"] for t in obj["spec"]["triggers"]} == {"nats-jetstream"}
        assert not _by_kind(docs, "HorizontalPodAutoscaler")  # KEDA owns the router's HPA there


@pytest.mark.parametrize("overlay", vd.OVERLAYS)
def test_publisher_replicas_share_the_write_limit(overlay: str) -> None:
    """Replicas pace writes at limit / SB_WRITE_SHARE each (`xmtp_core.node.pacing`): with a share below the
    replica count they could together write past the network's limit and meet 429s."""
    publisher = _by_kind(_rendered(overlay), "Deployment")["publisher"]
    env = {e["name"]: e.get("value") for e in publisher["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert int(env.get("SB_WRITE_SHARE") or 1) >= publisher["spec"].get("replicas", 1)
