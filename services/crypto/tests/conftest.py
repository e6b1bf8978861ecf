"""Fixtures for crypto tests: the bus fixtures (fresh streams per test) and a node client on the root devnode."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[3] / "libs/xmtp_core/tests/bus"))  # busfixtures
sys.path.insert(0, str(Path(__file__).parents[3] / "libs/xmtp_core/tests/node"))  # nodekit
sys.path.insert(0, str(Path(__file__).parent))  # cryptokit

from busfixtures import client, js, nc, node, settings

__all__ = ["client", "js", "nc", "node", "settings"]
