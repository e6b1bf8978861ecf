"""The fuzz targets of `fuzz/targets.py` under hypothesis in every `make test` (the long runs are atheris's, in
`make fuzz`): random bytes and mutated seeds end in a result or the parser's typed refusal, never another
exception."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
from targets import TARGETS, Target, check


@st.composite
def inputs(draw: st.DrawFn, target: Target) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=512))
    data = bytearray(draw(st.sampled_from(target.seeds())))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            data.append(draw(st.integers(0, 255)))
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["set", "insert", "delete", "cut"]))
        if op == "set":
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at]
        else:
            del data[at:]
    return bytes(data)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_parser_answers_hostile_bytes_with_its_typed_refusal(name: str) -> None:
    target = TARGETS[name]

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(inputs(target))
    def run(data: bytes) -> None:
        check(target, data)

    run()


def test_every_seed_is_accepted_by_its_parser() -> None:
    """Seeds that the parser itself refuses would start every mutation at the first check."""
    refused = []
    for name, target in TARGETS.items():
        for seed in target.seeds():
            try:
                target.run(seed)
            except target.expected as exc:
                refused.append(f"{name}: {exc}")
    assert refused == [], refused
