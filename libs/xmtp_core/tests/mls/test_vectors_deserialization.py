"""MLS test vectors `deserialization.json`: RFC 9420 varint headers, one test per case."""

from __future__ import annotations

from typing import Any

import pytest
from xmtp_core.mls.conformance.deserialization import run_case

from ._vectors import load

CASES = load("deserialization")


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_vector(case: dict[str, Any]) -> None:
    run_case(case)
