"""Loads the RFC 9420 interoperability test vectors for the MLS tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_LOCAL = Path(__file__).parent / "vectors"


def load(name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((_LOCAL / f"{name}.json").read_text())
    return data
