"""The Dockerfile without an engine: hadolint clean, and its build stage replayed on this machine (the same COPYs
and the same `uv sync` line into a scratch directory) gives a venv that serves every service from the image's
working directory (sources and tests left out, as `.dockerignore` leaves them out)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _stages() -> list[list[str]]:
    """Each stage's instructions, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_hadolint_passes() -> None:
    res = subprocess.run([str(BIN / "hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text((ROOT / "Dockerfile").read_text().replace("uv==0.13.9", "uv").replace("USER 10001", "USER root"))
    res = subprocess.run([str(BIN / "hadolint"), str(bad)], capture_output=True, text=True)
    assert res.returncode != 0
    assert "DL3013" in res.stdout  # unpinned pip install
    assert "DL3002" in res.stdout  # last USER is root


def test_runtime_stage_is_non_root_and_has_a_healthcheck() -> None:
    runtime = _stages()[-1]
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK ") and "/healthz" in line for line in runtime)
    assert any(line.startswith('ENTRYPOINT ["switchboard"]') for line in runtime)
    assert len(_stages()) >= 2  # the toolchain (uv, build backends) stays in the build stage


@pytest.mark.timeout(300)
def test_build_stage_replayed_gives_a_working_venv(tmp_path: Path) -> None:
    build, runtime = _stages()[0], _stages()[-1]
    app = tmp_path / "app"
    app.mkdir()
    for line in build:
        if line.startswith("COPY "):
            *sources, _dest = shlex.split(line)[1:]
            for src in sources:
                target = app / src
                if (ROOT / src).is_dir():
                    shutil.copytree(
                        ROOT / src,
                        target,
                        ignore=shutil.ignore_patterns("tests", ".venv", "node_modules", "__pycache__"),
                    )
                else:
                    shutil.copy2(ROOT / src, target)
    sync = next(line for line in build if line.startswith("RUN uv sync"))
    args = shlex.split(sync)[2:]
    uv = ROOT / ".tools" / "bin" / "uv"
    env = {**os.environ, "UV_LINK_MODE": "copy", "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    res = subprocess.run(
        [str(uv), *args, "--python", sys.executable, "-q"], cwd=app, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-2000:]
    # The runtime stage copies only the venv and examples/: run from a directory holding nothing else.
    assert [line for line in runtime if line.startswith("COPY ")] == [
        "COPY --from=build /app/.venv /app/.venv",
        "COPY examples ./examples",
    ]
    shutil.rmtree(app / "libs")
    shutil.rmtree(app / "services")
    shutil.rmtree(app / "src")
    work = tmp_path / "work"
    shutil.copytree(ROOT / "examples", work / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    py = app / ".venv" / "bin" / "python"
    code = "import ingest.main, crypto.service, router.main, publisher.main, devnode.main, xmtp_core.health;"
    code += "from router.main import load_app; print(load_app('examples.echo:agent').name)"
    res = subprocess.run([str(py), "-c", code], cwd=work, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "echo"
    res = subprocess.run(
        [str(app / ".venv" / "bin" / "switchboard"), "--help"], cwd=work, capture_output=True, text=True
    )
    assert res.returncode == 0 and "publisher" in res.stdout
