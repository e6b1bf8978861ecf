"""Conformance handler for ``tree-math.json`` (RFC 9420 Appendix C)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xmtp_core.mls import tree_math as tm
from xmtp_core.mls.conformance.util import check
from xmtp_core.mls.errors import ValidationError


def _or_none(fn: Callable[..., int], *args: int) -> int | None:
    """The vectors write null where tree_math refuses (a leaf's children, the root's parent)."""
    try:
        return fn(*args)
    except ValidationError:
        return None


def run_case(case: dict[str, Any]) -> None:
    """Check one case of ``tree-math.json``; AssertionError names the first mismatch."""
    n = case["n_leaves"]
    check("n_nodes", tm.node_width(n), case["n_nodes"])
    check("root", tm.root(n), case["root"])
    width = tm.node_width(n)
    check("left", [_or_none(tm.left, x) for x in range(width)], case["left"])
    check("right", [_or_none(tm.right, x) for x in range(width)], case["right"])
    check("parent", [_or_none(tm.parent, x, n) for x in range(width)], case["parent"])
    check("sibling", [_or_none(tm.sibling, x, n) for x in range(width)], case["sibling"])
