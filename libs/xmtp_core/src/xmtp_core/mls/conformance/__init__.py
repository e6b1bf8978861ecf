"""Conformance runner for the MLS working-group test vectors.

``HANDLERS`` maps a vector file's stem to the module (``xmtp_core.mls.conformance.<stem>``) that checks one case
with ``run_case(case)``; every ``passive-client-*.json`` file maps to ``passive_client``.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HANDLERS: dict[str, str] = {
    "crypto-basics": "crypto_basics",
    "tree-math": "tree_math",
    "deserialization": "deserialization",
    "key-schedule": "key_schedule",
    "psk_secret": "psk_secret",
    "secret-tree": "secret_tree",
    "transcript-hashes": "transcript_hashes",
    "message-protection": "message_protection",
    "messages": "messages",
    "welcome": "welcome",
    "tree-operations": "tree_operations",
    "tree-validation": "tree_validation",
    "treekem": "treekem",
}

RunCase = Callable[[dict[str, Any]], None]


def handler_module_name(path: Path) -> str | None:
    """Module name (under this package) for a vector file, or None when no handler is registered."""
    stem = path.name.removesuffix(".json")
    if stem.startswith("passive-client-"):
        return "passive_client"
    return HANDLERS.get(stem)


def load_handler(path: Path) -> RunCase | None:
    """The ``run_case`` function for ``path``, or None if its module does not exist (yet)."""
    name = handler_module_name(path)
    if name is None:
        return None
    full = f"{__name__}.{name}"
    try:
        module = importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return None
        raise
    run_case: RunCase = module.run_case
    return run_case


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one vector case: ``error`` is None when it passed."""

    file: str
    index: int
    error: str | None

    @property
    def ok(self) -> bool:
        """Whether the case passed."""
        return self.error is None


def load_cases(path: Path) -> list[dict[str, Any]]:
    """The JSON list of cases in a vector file."""
    data = json.loads(path.read_text())
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of cases")
    return data


def run_file(path: Path) -> Iterator[CaseResult]:
    """Run every case of one vector file; a missing handler fails every case."""
    cases = load_cases(path)
    try:
        run_case = load_handler(path)
    except Exception as exc:  # a broken handler module fails the file, not the runner
        run_case, load_error = None, f"handler import failed: {type(exc).__name__}: {exc}"
    else:
        load_error = "no handler"
    for index, case in enumerate(cases):
        if run_case is None:
            yield CaseResult(path.name, index, load_error)
            continue
        try:
            run_case(case)
        except Exception as exc:  # report every failure kind, keep going
            yield CaseResult(path.name, index, f"{type(exc).__name__}: {exc}")
        else:
            yield CaseResult(path.name, index, None)
