"""Conformance handler for ``tree-math.json`` (RFC 9420 Appendix C)."""

from __future__ import annotations

from typing import Any

from xmtp_core.mls import tree_math as tm
from xmtp_core.mls.conformance.util import check


def _or_none(fn: Any, *args: int) -> int | None:
    try:
        value: int = fn(*args)
    except Exception:
        return None
    return value


def run_case(case: dict[str, Any]) -> None:
    n = case["n_leaves"]
    check("n_nodes", tm.node_width(n), case["n_nodes"])
    check("root", tm.root(n), case["root"])
    width = tm.node_width(n)
    check("left", [_or_none(tm.left, x) for x in range(width)], case["left"])
    check("right", [_or_none(tm.right, x) for x in range(width)], case["right"])
    check("parent", [_or_none(tm.parent, x, n) for x in range(width)], case["parent"])
    check("sibling", [_or_none(tm.sibling, x, n) for x in range(width)], case["sibling"])
