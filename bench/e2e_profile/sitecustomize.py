"""Profiling hook for `bench/e2e.py --profile`: put on PYTHONPATH of the services with `SB_BENCH_PROFILE=<dir>`,
it makes SIGUSR1 start a fresh cProfile of the main thread (timed in CPU seconds of the process, so other work
on the machine does not inflate it; time spent waiting on IO is then not in it) and SIGUSR2 stop it and write
`<dir>/<service>-<pid>.prof`, so only the measured window is profiled (not imports and start-up). Without the
variable it does nothing. Python imports `sitecustomize` at start-up by itself."""

from __future__ import annotations

import cProfile
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

_OUT = os.environ.get("SB_BENCH_PROFILE")
_profile: list[cProfile.Profile] = []


def _start(_sig: int, _frame: FrameType | None) -> None:
    profile = cProfile.Profile(time.process_time)
    _profile[:] = [profile]
    profile.enable()


def _stop(_sig: int, _frame: FrameType | None) -> None:
    if not _profile or _OUT is None:
        return
    profile = _profile.pop()
    profile.disable()
    service = Path(sys.argv[1]).name if len(sys.argv) > 1 else "python"
    profile.dump_stats(str(Path(_OUT) / f"{service}-{os.getpid()}.prof"))


if _OUT:
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
