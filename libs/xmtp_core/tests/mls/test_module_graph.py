"""The layout of ``xmtp_core.mls`` says what is true: it imports nothing of xmtp_core outside itself, its
modules import each other without a cycle, and no import hides inside a function (issue 10)."""

from __future__ import annotations

import ast
from pathlib import Path

import xmtp_core.mls

PACKAGE = Path(xmtp_core.mls.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """Modules an import statement loads; ``from package import name`` may name a submodule."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    module = node.module or ""
    return [module, *(f"{module}.{alias.name}" for alias in node.names)]


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    """Module -> xmtp_core modules it imports when loaded; and every import found inside a function."""
    graph: dict[str, set[str]] = {}
    nested: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        tree = ast.parse(path.read_text())
        edges: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.If) and _is_type_checking(node):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    edges.update(m for m in _imported(inner) if m.startswith("xmtp_core"))
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(func):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        nested += [f"{name}: {m}" for m in _imported(inner) if m.startswith("xmtp_core")]
        graph[name] = edges
    return graph, nested


def test_mls_imports_nothing_of_xmtp_core_outside_mls() -> None:
    graph, _ = _graph()
    outside = {(m, dep) for m, deps in graph.items() for dep in deps if not dep.startswith("xmtp_core.mls")}
    assert not outside


def test_no_function_level_imports() -> None:
    _, nested = _graph()
    assert not nested


def test_mls_modules_import_each_other_without_a_cycle() -> None:
    graph, _ = _graph()
    done: set[str] = set()

    def visit(module: str, stack: list[str]) -> None:
        if module in stack:
            raise AssertionError("import cycle: " + " -> ".join([*stack[stack.index(module) :], module]))
        if module in done or module not in graph:
            return
        for dep in sorted(graph[module]):
            visit(dep, [*stack, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
