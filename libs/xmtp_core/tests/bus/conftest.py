"""Fixtures for bus tests (defined in busfixtures, shared with the ingest and publisher tests)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # for busfixtures under --import-mode=importlib

from busfixtures import js, nc, settings

__all__ = ["js", "nc", "settings"]
