"""`make fuzz`: each target of `fuzz/targets.py` under atheris (libFuzzer) for FUZZ_RUNS inputs (10^6 by default),
one process per target, seeded with its valid inputs; a crash or a hang (FUZZ_TIMEOUT_S per input) fails it.

Run by the interpreter of `fuzz/.venv` (atheris is kept out of the product's lock) with the product's
site-packages named by FUZZ_SITE_PACKAGES (added with its .pth files, so editable installs resolve): `make fuzz`
sets both up.

    python fuzz/run.py [target ...]      # all targets when none is named
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if os.environ.get("FUZZ_SITE_PACKAGES"):
    site.addsitedir(os.environ["FUZZ_SITE_PACKAGES"])


def _one(name: str) -> None:
    import atheris

    with atheris.instrument_imports(include=["xmtp_core"]):  # our parsers, not pydantic or protobuf
        sys.path.insert(0, str(HERE))
        from targets import TARGETS, check

    target = TARGETS[name]

    def test_one_input(data: bytes) -> None:
        check(target, data)

    atheris.Setup(sys.argv[:1] + sys.argv[3:], test_one_input)
    atheris.Fuzz()


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] == "--one":
        _one(argv[2])
        return 0
    sys.path.insert(0, str(HERE))
    from targets import TARGETS

    runs = int(os.environ.get("FUZZ_RUNS", "1000000"))
    timeout = int(os.environ.get("FUZZ_TIMEOUT_S", "10"))
    names = argv[1:] or list(TARGETS)
    failed: list[str] = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as corpus:
            for n, seed in enumerate(TARGETS[name].seeds()):
                (Path(corpus) / f"seed{n}").write_bytes(seed)
            started = time.monotonic()
            cmd = [sys.executable, __file__, "--one", name, f"-runs={runs}", f"-timeout={timeout}"]
            findings = HERE.parent / ".run" / "fuzz"  # git-ignored; a crashing input is kept there
            findings.mkdir(parents=True, exist_ok=True)
            cmd += ["-max_len=4096", f"-artifact_prefix={findings}/{name}-", corpus]
            done = subprocess.run(cmd, capture_output=True, text=True)
            summary = [line for line in done.stderr.splitlines() if line.startswith("Done ")]
            print(f"{name}: exit {done.returncode} in {time.monotonic() - started:.0f}s; {' '.join(summary)}")
            if done.returncode != 0:
                print(done.stderr[-4000:])
                failed.append(name)
    print(f"fuzz: {len(names) - len(failed)} of {len(names)} targets clean at {runs} inputs each")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
