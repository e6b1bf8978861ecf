"""devnode as a process of its own for `bench/e2e.py`, counting the node calls XMTP's rate limits count (writes:
messages, welcomes, key packages, identity updates; reads: queries), so the benchmark can print reads and writes
per echo. Nothing is refused: devnode's limiter (`devnode.ratelimit`) with no limit set only counts.

    python bench/e2e_node.py <database url>
prints `{"port": N}`, then `{"<peer>": {"write": n, "read": n}, ...}` (per connection, since start) for each
`counts` line on stdin."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `bench/devnode.py` would shadow the devnode package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from devnode.main import start  # noqa: E402
from devnode.ratelimit import RateLimiter, RateLimits  # noqa: E402


def counts(limiter: RateLimiter | None) -> dict[str, dict[str, int]]:
    """Calls per client (the connection's peer) and kind since the client was first seen."""
    out: dict[str, dict[str, int]] = {}
    for (client, kind), (allowed, _refused) in (limiter.tally() if limiter else {}).items():
        out.setdefault(client, {})[kind] = allowed
    return out


async def main(database_url: str) -> None:
    node = await start("127.0.0.1:0", database_url, rate_limits=RateLimits(writes=None, reads=None))
    print(json.dumps({"port": node.port}), flush=True)
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            if line.strip() == "counts":
                print(json.dumps(counts(node.limiter)), flush=True)
    finally:
        await node.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
