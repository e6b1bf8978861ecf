"""MLS test vectors `crypto-basics.json`: RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret,
SignWithLabel and EncryptWithLabel, one test per case."""

from __future__ import annotations

from typing import Any

import pytest
from xmtp_core.mls.conformance.crypto_basics import run_case

from ._vectors import load

CASES = load("crypto-basics")


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_vector(case: dict[str, Any]) -> None:
    run_case(case)
