"""Generate (or check) the Python protobuf/gRPC modules from the project's own .proto files.

Usage:
    gen_protos.py SRC OUT          generate every .proto under SRC into OUT
    gen_protos.py --check SRC OUT  regenerate into a temp dir; exit 1 listing stale/missing/extra files

Imports inside the .proto files are relative to SRC, so `SRC/xmtp_core/protos/a/b.proto` becomes the
module `xmtp_core.protos.a.b_pb2` under OUT.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
INIT_DOCSTRING = '"""Generated protobuf package (do not edit; run `make protos`)."""\n'


def find_protos(src: Path) -> list[Path]:
    return sorted(p for p in src.rglob("*.proto") if p.is_file())


def run_protoc(src: Path, out: Path, protos: Iterable[Path]) -> None:
    # Imported lazily so `--help` works without grpc_tools installed.
    import grpc_tools
    from grpc_tools import protoc

    bundled_includes = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{src}",
        f"-I{bundled_includes}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *(str(p.relative_to(src)) for p in protos),
    ]
    # protoc resolves the relative file names against the include path.
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")


def package_dirs(src: Path, protos: Iterable[Path]) -> set[Path]:
    """Relative directories that must be Python packages: every proto's directory and its parents."""
    dirs: set[Path] = set()
    for proto in protos:
        rel = proto.relative_to(src).parent
        while rel != Path("."):
            dirs.add(rel)
            rel = rel.parent
    return dirs


def write_inits(out: Path, src: Path, protos: list[Path]) -> None:
    for rel in package_dirs(src, protos):
        # The top-level package (e.g. xmtp_core) is hand-written; only generated packages get an init.
        if len(rel.parts) < 2:
            continue
        init = out / rel / "__init__.py"
        init.parent.mkdir(parents=True, exist_ok=True)
        init.write_text(INIT_DOCSTRING)


def generate(src: Path, out: Path) -> None:
    protos = find_protos(src)
    if not protos:
        raise SystemExit(f"no .proto files under {src}")
    out.mkdir(parents=True, exist_ok=True)
    run_protoc(src, out, protos)
    write_inits(out, src, protos)


def generated_files(root: Path, src: Path) -> set[Path]:
    """Relative paths of generated files under root, searched in every generated package tree.

    Whole trees are scanned (not just current proto dirs) so files left over from a deleted .proto
    show up as extra.
    """
    tree_roots = {rel for rel in package_dirs(src, find_protos(src)) if len(rel.parts) == 2}
    found: set[Path] = set()
    for rel_root in tree_roots:
        directory = root / rel_root
        if not directory.is_dir():
            continue
        for path in directory.rglob("*"):
            if path.is_file() and (path.name.endswith(GENERATED_SUFFIXES) or path.name == "__init__.py"):
                found.add(path.relative_to(root))
    return found


def check(src: Path, out: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="protos-check-") as tmp:
        fresh = Path(tmp)
        generate(src, fresh)
        expected = generated_files(fresh, src)
        actual = generated_files(out, src)
        missing = sorted(expected - actual)
        extra = sorted(actual - expected)
        differ = sorted(rel for rel in expected & actual if not filecmp.cmp(fresh / rel, out / rel, shallow=False))
    problems = [f"missing: {p}" for p in missing]
    problems += [f"extra: {p}" for p in extra]
    problems += [f"differs: {p}" for p in differ]
    if problems:
        print("generated protos are out of date (run `make protos`):", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"generated protos are up to date ({len(expected)} files)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="verify committed output instead of writing")
    parser.add_argument("src", type=Path, help="proto root (import paths are relative to it)")
    parser.add_argument("out", type=Path, help="Python source root that receives the generated modules")
    args = parser.parse_args(argv)
    src: Path = args.src.resolve()
    out: Path = args.out.resolve()
    if args.check:
        return check(src, out)
    generate(src, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
