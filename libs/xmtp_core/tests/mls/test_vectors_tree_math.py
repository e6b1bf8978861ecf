"""MLS test vectors `tree-math.json`: tree index arithmetic (RFC 9420 Appendix C), one test per case."""

from __future__ import annotations

from typing import Any

import pytest
from xmtp_core.mls.conformance.tree_math import run_case

from ._vectors import load

CASES = load("tree-math")


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_vector(case: dict[str, Any]) -> None:
    run_case(case)
