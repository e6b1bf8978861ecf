"""compose.yaml and the Kubernetes manifests validate offline, and the validators do catch broken files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("validate_deploy", ROOT / "scripts" / "validate_deploy.py")
assert _spec and _spec.loader
vd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vd)


def test_compose_file_is_valid() -> None:
    res = vd.validate_compose(ROOT / "compose.yaml")
    assert res.returncode == 0, res.stderr


def test_compose_validator_rejects_a_broken_file(tmp_path: Path) -> None:
    doc = yaml.safe_load((ROOT / "compose.yaml").read_text())
    doc["services"]["devnode"]["depends_on"] = {"no-such-service": {"condition": "service_started"}}
    bad = tmp_path / "compose.yaml"
    bad.write_text(yaml.safe_dump(doc))
    res = vd.validate_compose(bad)
    assert res.returncode != 0
    assert "no-such-service" in (res.stderr + res.stdout)


def test_k8s_manifests_are_valid() -> None:
    manifests = vd.k8s_manifests(ROOT / "deploy" / "k8s")
    assert manifests
    res = vd.validate_k8s(manifests)
    assert res.returncode == 0, res.stdout + res.stderr


def test_k8s_validator_rejects_a_broken_manifest(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "devnode.yaml").read_text()))
    docs[0]["spec"]["replicas"] = "two"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all(docs))
    res = vd.validate_k8s([bad])
    assert res.returncode != 0


def test_every_kustomize_resource_exists() -> None:
    kust = yaml.safe_load((ROOT / "deploy" / "k8s" / "kustomization.yaml").read_text())
    for res in kust["resources"]:
        assert (ROOT / "deploy" / "k8s" / res).is_file(), res
