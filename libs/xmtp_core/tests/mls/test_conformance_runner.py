"""The ``python -m xmtp_core.mls.conformance`` runner: counting, failure lines, missing handlers, exit code;
the handlers' HPKE private-key import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from xmtp_core.mls.cipher_suite import get_cipher_suite
from xmtp_core.mls.conformance import handler_module_name
from xmtp_core.mls.conformance.__main__ import main
from xmtp_core.mls.conformance.util import hpke_private_key

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


def test_hpke_private_key_pads_only_short_nist_scalars() -> None:
    p521 = get_cipher_suite(5)
    sk, pk = next(kp for i in range(64) if (kp := p521.kem.derive_key_pair(bytes([i]) * 66))[0][0] == 0)
    assert hpke_private_key(p521, sk[1:].hex()) == sk  # the vectors' 65-byte form of this scalar
    assert p521.kem.public_key(hpke_private_key(p521, sk[1:].hex())) == pk
    assert hpke_private_key(p521, sk.hex()) == sk
    x25519 = get_cipher_suite(1)
    short = bytes(range(31))  # raw X25519 keys are never padded: a short one stays short (and the KEM rejects it)
    assert hpke_private_key(x25519, short.hex()) == short
