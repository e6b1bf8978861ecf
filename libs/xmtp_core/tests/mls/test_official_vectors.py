"""Every case of every official MLS test-vector file, in full, through the conformance runner that
``python -m xmtp_core.mls.conformance`` uses; the case counts are pinned so a shortened file or a skipped
handler shows. X-Wing's vectors (not an MLS working-group file) are run by ``test_xwing.py``.

Other test files in this folder use single vector cases as a base for tampering; none runs a slice of a file
in place of this test."""

from __future__ import annotations

from pathlib import Path

import pytest
from xmtp_core.mls.conformance import run_file

VECTORS = Path(__file__).parent / "vectors"
NOT_MLS_WG = {"xwing-draft06.json"}

CASES = {
    "crypto-basics.json": 7,
    "deserialization.json": 14,
    "key-schedule.json": 7,
    "message-protection.json": 7,
    "messages.json": 300,
    "passive-client-handling-commit.json": 91,
    "passive-client-welcome.json": 56,
    "psk_secret.json": 70,
    "secret-tree.json": 21,
    "transcript-hashes.json": 300,
    "tree-math.json": 10,
    "tree-operations.json": 5,
    "tree-validation.json": 98,
    "treekem.json": 77,
    "welcome.json": 7,
}


def test_every_vector_file_is_run() -> None:
    assert {p.name for p in VECTORS.glob("*.json")} - NOT_MLS_WG == set(CASES)
    assert sum(CASES.values()) == 1070


@pytest.mark.parametrize("name", sorted(CASES))
def test_vector_file_passes_in_full(name: str) -> None:
    results = list(run_file(VECTORS / name))
    failures = [f"{r.file}#{r.index}: {r.error}" for r in results if not r.ok]
    assert not failures, "\n".join(failures[:20])
    assert len(results) == CASES[name]
