"""Loads the RFC 9420 interoperability test vectors for the MLS tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_LOCAL = Path(__file__).parent / "vectors"
_SHARED = Path("/work/shared/mls-test-vectors")


def load(name: str) -> list[dict[str, Any]]:
    for base in (_LOCAL, _SHARED):
        path = base / f"{name}.json"
        if path.exists():
            data: list[dict[str, Any]] = json.loads(path.read_text())
            return data
    raise FileNotFoundError(f"test vector file {name}.json not found")
