"""Chaos fixtures: the libxmtp peer of the interop tests (their conftest, loaded under its own name), and the
pipeline kit and this folder's helpers (`chaoskit`, `natscluster`) on sys.path. `SB_CHAOS_FULL=1` (`make chaos`)
runs the long form of each test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

INTEROP = Path(__file__).resolve().parents[1] / "interop"
sys.path.insert(0, str(INTEROP))  # peer, pipelinekit
sys.path.insert(0, str(Path(__file__).resolve().parent))  # chaoskit, natscluster


def _interop_conftest() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_interop_conftest", INTEROP / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


peer = _interop_conftest().peer

__all__ = ["peer"]
