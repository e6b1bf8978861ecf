"""MLS test vectors `key-schedule.json`: epoch secrets over consecutive epochs and MLS-Exporter, one test per case."""

from __future__ import annotations

from typing import Any

import pytest
from xmtp_core.mls.conformance.key_schedule import run_case

from ._vectors import load

CASES = load("key-schedule")


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_vector(case: dict[str, Any]) -> None:
    run_case(case)
