"""MLS test vectors `psk_secret.json`: PSK secret chaining (RFC 9420 §8.4), one test per case."""

from __future__ import annotations

from typing import Any

import pytest
from xmtp_core.mls.conformance.psk_secret import run_case

from ._vectors import load

CASES = load("psk_secret")


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_vector(case: dict[str, Any]) -> None:
    run_case(case)
