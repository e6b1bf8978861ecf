"""Fixtures for publisher tests: the bus fixtures, a devnode on a fresh database and a node client for it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[3] / "libs/xmtp_core/tests/bus"))  # busfixtures
sys.path.insert(0, str(Path(__file__).parents[3] / "libs/xmtp_core/tests/node"))  # nodekit: MLS framing for the node

from busfixtures import client, js, nc, node, settings

__all__ = ["client", "js", "nc", "node", "settings"]
