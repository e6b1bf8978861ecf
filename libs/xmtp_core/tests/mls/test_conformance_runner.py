"""The ``python -m xmtp_core.mls.conformance`` runner: counting, failure lines, missing handlers, exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from xmtp_core.mls.conformance import handler_module_name
from xmtp_core.mls.conformance.__main__ import main

VECTORS = Path(__file__).parent / "vectors"


def test_handler_names() -> None:
    assert handler_module_name(Path("crypto-basics.json")) == "crypto_basics"
    assert handler_module_name(Path("passive-client-random.json")) == "passive_client"
    assert handler_module_name(Path("unknown.json")) is None


def test_passing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(VECTORS / "deserialization.json")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "14 passed, 0 failed"


def test_failing_case_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = json.loads((VECTORS / "deserialization.json").read_text())[:3]
    cases[1]["length"] += 1
    path = tmp_path / "deserialization.json"
    path.write_text(json.dumps(cases))
    assert main([str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("deserialization.json#1: ")
    assert lines[-1] == "2 passed, 1 failed"


def test_missing_handler_fails_every_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "no-such-area.json"
    path.write_text(json.dumps([{}, {}]))
    assert main([str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["no-such-area.json#0: no handler", "no-such-area.json#1: no handler", "0 passed, 2 failed"]


def test_usage_without_arguments() -> None:
    assert main([]) == 2
