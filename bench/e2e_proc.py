"""What `bench/e2e.py` reads about processes from /proc: CPU seconds and proportional memory of process trees,
and which process owns a local TCP port (so devnode's per-connection counts can be given to a side).

CPU of a tree is utime + stime of every live process in it plus cutime + cstime (what its reaped children
used): a Postgres backend that exits inside a window is then still counted, through the postmaster."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on; the name may hold spaces


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def tree(roots: Iterable[int]) -> set[int]:
    """The roots and every live descendant."""
    children: dict[int, list[int]] = {}
    for pid in _pids():
        fields = _stat(pid)
        if fields:
            children.setdefault(int(fields[1]), []).append(pid)
    found: set[int] = set()
    todo = [r for r in roots if _stat(r)]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def command_name(pid: int) -> str:
    """The process's command name (`nats-server`, `postgres`), or `pid <n>` once it is gone."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return f"pid {pid}"


def cpu_seconds(roots: Iterable[int]) -> float:
    total = 0
    for pid in tree(roots):
        fields = _stat(pid)
        if fields:  # utime, stime, cutime, cstime are fields 14-17 (indexes 11-14 here)
            total += sum(int(x) for x in fields[11:15])
    return total / TICK


def pss_mib(roots: Iterable[int]) -> float:
    """Proportional set size of the tree: shared pages (Postgres's buffers) counted once over the processes."""
    total_kb = 0
    for pid in tree(roots):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:
            continue
    return total_kb / 1024


def port_owners() -> dict[int, int]:
    """Local TCP port -> pid of the process holding that socket."""
    inode_port: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            inode_port[parts[9]] = int(parts[1].rsplit(":", 1)[1], 16)
    owners: dict[int, int] = {}
    for pid in _pids():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inode_port:
                owners[inode_port[link[8:-1]]] = pid
    return owners


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine distorts wall-clock figures)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
