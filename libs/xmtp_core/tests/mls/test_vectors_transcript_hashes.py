"""MLS test vectors `transcript-hashes.json`: confirmed and interim transcript hashes (RFC 9420 §8.2)."""

from __future__ import annotations

from typing import Any

import pytest
from xmtp_core.mls.conformance.transcript_hashes import run_case

from ._vectors import load

CASES = load("transcript-hashes")


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_vector(case: dict[str, Any]) -> None:
    run_case(case)
