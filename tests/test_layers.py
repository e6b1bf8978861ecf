"""The layer rules of the code base, checked over the import statements (read with `ast`, nothing is imported).

Each rule says which modules may not import which: a module "imports" every name its `import` / `from ... import`
statements name, wherever they stand (functions and `TYPE_CHECKING` blocks included, so a rule cannot be dodged
by a late import). Most rules look at direct imports; "devnode decrypts nothing" follows them transitively
through xmtp_core, since reaching the decrypting code through a harmless-looking module is the same breach.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "libs" / "xmtp_core" / "src"
SERVICES = ROOT / "services"

Graph = Mapping[str, frozenset[str]]


def _under(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, *, is_package: bool = False) -> frozenset[str]:
    """Every module ``source`` names in an import; ``from a import b`` names ``a`` and ``a.b`` (b may be a
    submodule). Relative imports are resolved against ``module``."""
    names: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return frozenset(names)


def scan(src: Path) -> dict[str, frozenset[str]]:
    """module name -> imported names, for every ``.py`` file below ``src`` (a source root)."""
    graph: dict[str, frozenset[str]] = {}
    for path in sorted(src.rglob("*.py")):
        if "protos" in path.relative_to(src).parts:
            continue  # generated code
        name = module_name(path, src)
        graph[name] = imports_of(path.read_text(), name, is_package=path.name == "__init__.py")
    return graph


def reachable(graph: Graph, start: str) -> set[str]:
    """Modules of ``graph`` that ``start`` reaches through imports (a module imports its parent packages too)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        parts = current.split(".")
        parents = [".".join(parts[:i]) for i in range(1, len(parts))]
        todo.extend(m for m in [*graph.get(current, ()), *parents] if m in graph and m not in seen)
    return seen


@dataclass(frozen=True)
class Rule:
    name: str
    modules: tuple[str, ...]  # who the rule binds (module prefixes)
    forbidden: tuple[str, ...]  # what they must not import (module prefixes)
    allowed: tuple[str, ...] = ()  # exceptions inside ``forbidden``
    transitive: bool = False


# The MLS code that holds or derives group secrets. HPKE is a primitive every CipherSuite carries (devnode needs
# the suite to check signatures), so devnode may reach it through `cipher_suite` but not import it itself.
DECRYPTING_MLS = tuple(
    f"xmtp_core.mls.{m}" for m in ("group", "secret_tree", "message_protection", "key_schedule", "welcome_crypto")
)
NATS = ("nats", "faststream", "xmtp_core.bus")

LIBRARY_RULES = (
    Rule("mls imports nothing of xmtp_core outside mls", ("xmtp_core.mls",), ("xmtp_core",),
         allowed=("xmtp_core.mls", "xmtp_core.untrusted")),
    Rule("content and identity import neither engine nor runtime nor store",
         ("xmtp_core.content", "xmtp_core.identity"), ("xmtp_core.engine", "xmtp_core.runtime", "xmtp_core.store")),
    Rule("engine imports neither the node package nor store nor runtime nor NATS code", ("xmtp_core.engine",),
         ("xmtp_core.node", "xmtp_core.store", "xmtp_core.runtime", "grpc", "sqlalchemy", *NATS)),
)  # fmt: skip


def service_rules(services: Iterable[str]) -> tuple[Rule, ...]:
    """Rules over the service packages (``services/<name>/src/<name>``)."""
    names = tuple(services)
    rules = [
        Rule("devnode imports no decrypting MLS code", ("devnode",), DECRYPTING_MLS, transitive=True),
        Rule("devnode imports no HPKE", ("devnode",), ("xmtp_core.mls.hpke",)),
        Rule("the router imports neither store nor MLS", ("router",), ("xmtp_core.store", "xmtp_core.mls")),
    ]
    rules += [Rule(f"{s} imports no other service", (s,), tuple(o for o in names if o != s)) for s in names]
    return tuple(rules)


def violations(graph: Graph, rules: Iterable[Rule]) -> list[str]:
    """One line per (rule, module, forbidden import) broken."""
    out: list[str] = []
    for rule in rules:
        for module in sorted(m for m in graph if _under(m, rule.modules)):
            if rule.transitive:
                names: set[str] = set()
                for m in reachable(graph, module):
                    names |= graph[m]
            else:
                names = set(graph[module])
            bad = sorted(n for n in names if _under(n, rule.forbidden) and not _under(n, rule.allowed))
            out += [f"{rule.name}: {module} -> {n}" for n in bad]
    return out


def _services() -> dict[str, Path]:
    return {p.name: p for p in sorted(SERVICES.glob("*/src/*")) if p.is_dir() and (p / "__init__.py").exists()}


def _whole_graph() -> dict[str, frozenset[str]]:
    graph = scan(LIB)
    for src in {p.parent for p in _services().values()}:
        graph.update(scan(src))
    return graph


def test_the_code_base_keeps_its_layers() -> None:
    assert violations(_whole_graph(), (*LIBRARY_RULES, *service_rules(_services()))) == []


def test_the_scan_sees_the_code_base() -> None:
    graph = _whole_graph()
    assert "xmtp_core.engine.receiving" in graph and "devnode.main" in graph
    assert "xmtp_core.mls" in graph["xmtp_core.engine.receiving"] or any(
        _under(n, ("xmtp_core.mls",)) for n in graph["xmtp_core.engine.receiving"]
    )


def test_each_rule_fails_on_a_module_that_breaks_it() -> None:
    fake = {
        "xmtp_core.mls.fake": imports_of("from xmtp_core.xmtp_mls.credential import Credential", "xmtp_core.mls.fake"),
        "xmtp_core.mls.y": imports_of("from xmtp_core.untrusted import clean\nfrom . import codec", "xmtp_core.mls.y"),
        "xmtp_core.identity.fake": imports_of("import xmtp_core.store", "xmtp_core.identity.fake"),
        "xmtp_core.content.fake": imports_of("def f():\n    from xmtp_core.runtime import Runtime", "x.y"),
        "xmtp_core.engine.fake": imports_of(
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..node.client import NodeClient\n"
            "import faststream\nfrom xmtp_core.envelopes import GroupMessage",
            "xmtp_core.engine.fake",
        ),
        "devnode.fake": imports_of("from xmtp_core.mls import framing", "devnode.fake"),
        "devnode.hpke_fake": imports_of("import xmtp_core.mls.hpke", "devnode.hpke_fake"),
        "xmtp_core.mls.framing": frozenset({"xmtp_core.mls.message_protection"}),
        "xmtp_core.mls.message_protection": frozenset(),
        "ingest.fake": imports_of("from publisher.app import main", "ingest.fake"),
        "router.fake": imports_of("from xmtp_core.store import Store", "router.fake"),
    }  # fmt: skip
    found = violations(fake, (*LIBRARY_RULES, *service_rules(["ingest", "publisher", "router", "devnode"])))
    expected = [
        "mls imports nothing of xmtp_core outside mls: xmtp_core.mls.fake -> xmtp_core.xmtp_mls.credential",
        "devnode imports no HPKE: devnode.hpke_fake -> xmtp_core.mls.hpke",
        "content and identity import neither engine nor runtime nor store: xmtp_core.content.fake -> xmtp_core.runtime",
        "content and identity import neither engine nor runtime nor store: xmtp_core.identity.fake -> xmtp_core.store",
        "engine imports neither the node package nor store nor runtime nor NATS code: "
        "xmtp_core.engine.fake -> faststream",
        "engine imports neither the node package nor store nor runtime nor NATS code: "
        "xmtp_core.engine.fake -> xmtp_core.node.client",
        "devnode imports no decrypting MLS code: devnode.fake -> xmtp_core.mls.message_protection",
        "the router imports neither store nor MLS: router.fake -> xmtp_core.store",
        "ingest imports no other service: ingest.fake -> publisher.app",
    ]
    for line in expected:
        assert line in found
    assert not [v for v in found if "xmtp_core.mls.y" in v or "envelopes" in v]
