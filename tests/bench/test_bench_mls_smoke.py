"""Smoke test for bench/mls.py: every bench function runs with tiny parameters and yields sane figures, so the
bench cannot rot as the MLS code changes. No timing thresholds: only that the numbers exist and are positive."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "mls.py"


@pytest.fixture(scope="module")
def mls_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_mls", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_mls"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _positive(stats: object, count: int) -> None:
    samples = stats.samples_ns  # type: ignore[attr-defined]
    assert len(samples) == count
    assert all(s > 0 for s in samples)
    assert stats.median_us > 0 and stats.p90_us >= stats.median_us  # type: ignore[attr-defined]


def test_floor(mls_bench: ModuleType) -> None:
    result = mls_bench.bench_floor(3, 1, content_len=100, signed_len=200)
    _positive(result.protect, 3)
    _positive(result.unprotect, 3)
    assert result.parts
    for stats in result.parts.values():
        _positive(stats, 3)


def test_message_protection_and_group_api(mls_bench: ModuleType) -> None:
    for bench in (mls_bench.bench_message_protection, mls_bench.bench_group_messages):
        result = bench(3, 1, message_size=50)
        _positive(result.protect, 3)
        _positive(result.unprotect, 3)
    direct = mls_bench.bench_message_protection(3, 1, message_size=50)
    assert direct.content_len > 50 and direct.signed_len > 50


def test_hpke(mls_bench: ModuleType) -> None:
    result = mls_bench.bench_hpke(3, 1)
    for stats in (result.seal_floor, result.open_floor, result.seal, result.open):
        _positive(stats, 3)


@pytest.mark.parametrize(("members", "populated", "ciphertexts"), [(2, False, 1), (3, False, 2), (5, True, 3)])
def test_commit(mls_bench: ModuleType, members: int, populated: bool, ciphertexts: int) -> None:
    result = mls_bench.bench_commit(members, 3, 1, populated=populated)
    assert result.members == members
    _positive(result.create, 3)
    _positive(result.process, 3)
    assert result.path_ciphertexts == ciphertexts
    assert result.build_s > 0


def test_breakdowns_restore_the_library(mls_bench: ModuleType) -> None:
    from xmtp_core.mls.cipher_suite import CipherSuite

    original = vars(CipherSuite)["encrypt_with_label"]
    shares = mls_bench.commit_breakdown(3, 2, 1)
    assert vars(CipherSuite)["encrypt_with_label"] is original
    assert set(shares) == {"commit create", "commit process"}
    assert 0 < shares["commit create"]["CipherSuite.encrypt_with_label"] <= 1
    messages = mls_bench.message_breakdown(3, 1, message_size=10)
    assert 0 < messages["message protect"]["CipherSuite.sign_with_label"] <= 1


def test_main_quick_prints_every_section(mls_bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert mls_bench.main(["--quick", "--size", "32"]) == 0
    out = capsys.readouterr().out
    for needle in ("floor protect", "ours unprotect, Group API", "encrypt_with_label", "10 members, populated tree"):
        assert needle in out
