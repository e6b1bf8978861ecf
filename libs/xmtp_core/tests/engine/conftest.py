"""Engine test fixtures; puts this folder on sys.path so tests share `enginekit` under --import-mode=importlib."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from enginekit import Resolver


@pytest.fixture
def resolver() -> Resolver:
    return Resolver()
