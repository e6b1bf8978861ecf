"""``python -m xmtp_core.mls.conformance FILE.json [...]``: run MLS test vectors and report failures."""

from __future__ import annotations

import sys
from pathlib import Path

from xmtp_core.mls.conformance import run_file


def main(argv: list[str]) -> int:
    """Run the vector files named in ``argv``; exit status 0 when every case passed."""
    if not argv:
        print("usage: python -m xmtp_core.mls.conformance FILE.json [FILE.json ...]", file=sys.stderr)
        return 2
    passed = failed = 0
    for arg in argv:
        for result in run_file(Path(arg)):
            if result.ok:
                passed += 1
            else:
                failed += 1
                print(f"{result.file}#{result.index}: {result.error}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
