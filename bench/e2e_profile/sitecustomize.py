"""Profiling hook for `bench/e2e.py --profile`: put on PYTHONPATH of the services with `SB_BENCH_PROFILE=<dir>`,
it makes SIGUSR1 start a fresh cProfile of the main thread (timed in CPU seconds of the process, so other work
on the machine does not inflate it; time spent waiting on IO is then not in it) and SIGUSR2 stop it and write
`<dir>/<service>-<pid>.prof`, so only the measured window is profiled (not imports and start-up). Over the same
window it counts the SQL statements and commits of every SQLAlchemy engine of the process, and the statements
run on the driver (`xmtp_core.store.Prepared`), by statement text (`<dir>/<service>-<pid>.sql.json`), for the
statements-per-echo figures. Without the variable it does nothing.
Python imports `sitecustomize` at start-up by itself."""

from __future__ import annotations

import cProfile
import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

_OUT = os.environ.get("SB_BENCH_PROFILE")
_profile: list[cProfile.Profile] = []
_statements: dict[str, int] = {}
_counting: list[bool] = []


def _statement(_conn: object, _cursor: object, statement: str, *_: object) -> None:
    if _counting:
        key = " ".join(statement.split())[:160]
        _statements[key] = _statements.get(key, 0) + 1


def _commit(_conn: object) -> None:
    if _counting:
        _statements["COMMIT"] = _statements.get("COMMIT", 0) + 1


def _count_prepared() -> None:
    try:
        from xmtp_core.store._util import Prepared
    except ImportError:  # a service without the store
        return
    if getattr(Prepared, "_counted", False):
        return
    real = Prepared._args

    def counted(self: Prepared, values: object) -> list[object]:
        _statement(None, None, self.sql)
        return real(self, values)  # type: ignore[arg-type]

    Prepared._args = counted  # type: ignore[method-assign]
    Prepared._counted = True  # type: ignore[attr-defined]


def _listen() -> None:
    _count_prepared()
    try:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
    except ImportError:  # a service without SQLAlchemy
        return
    if not event.contains(Engine, "before_cursor_execute", _statement):
        event.listen(Engine, "before_cursor_execute", _statement)
        event.listen(Engine, "commit", _commit)


def _start(_sig: int, _frame: FrameType | None) -> None:
    _listen()
    _statements.clear()
    _counting[:] = [True]
    profile = cProfile.Profile(time.process_time)
    _profile[:] = [profile]
    profile.enable()


def _stop(_sig: int, _frame: FrameType | None) -> None:
    if not _profile or _OUT is None:
        return
    profile = _profile.pop()
    profile.disable()
    service = Path(sys.argv[1]).name if len(sys.argv) > 1 else "python"
    _counting.clear()
    profile.dump_stats(str(Path(_OUT) / f"{service}-{os.getpid()}.prof"))
    if _statements:
        (Path(_OUT) / f"{service}-{os.getpid()}.sql.json").write_text(json.dumps(_statements))


if _OUT:
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
