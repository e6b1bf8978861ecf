"""MLS test vectors `secret-tree.json`: sender-data keys and per-leaf ratchets (RFC 9420 §9), one test per case."""

from __future__ import annotations

from typing import Any

import pytest
from xmtp_core.mls.conformance.secret_tree import run_case

from ._vectors import load

CASES = load("secret-tree")


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_vector(case: dict[str, Any]) -> None:
    run_case(case)
