"""Every module and public definition of the packages listed here says in one line what it is for.

Packages join the list once they are fully documented (content and identity so far)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

DOCUMENTED = ["xmtp_core.content", "xmtp_core.identity"]


def _undocumented(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    missing = [] if ast.get_docstring(tree) else ["<module>"]

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            is_def = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            if is_def and not node.name.startswith("_"):
                if not ast.get_docstring(node):
                    missing.append(prefix + node.name)
                if isinstance(node, ast.ClassDef):
                    walk(node.body, f"{prefix}{node.name}.")

    walk(tree.body, "")
    return missing


@pytest.mark.parametrize("package", DOCUMENTED)
def test_every_public_definition_has_a_docstring(package: str) -> None:
    root = Path(importlib.import_module(package).__file__ or "").parent
    missing = {str(p.relative_to(root)): names for p in sorted(root.rglob("*.py")) if (names := _undocumented(p))}
    assert missing == {}


@pytest.mark.parametrize("package", DOCUMENTED)
def test_every_exported_callable_is_documented(package: str) -> None:
    module = importlib.import_module(package)
    assert (module.__doc__ or "").strip()
    for name in module.__all__:
        value = getattr(module, name)
        if callable(value):
            assert (value.__doc__ or "").strip(), name
