"""The runtime's per-inbox identity caches keep the newest entries only (every new sender adds one)."""

from __future__ import annotations

from xmtp_core.runtime.identity import _keep


def test_the_oldest_entries_go_first_and_a_refresh_counts_as_new() -> None:
    cache: dict[str, int] = {}
    for n in range(5):
        _keep(cache, f"inbox{n}", n, 3)
    assert list(cache) == ["inbox2", "inbox3", "inbox4"]
    _keep(cache, "inbox2", 20, 3)  # refreshed: now the newest
    _keep(cache, "inbox5", 5, 3)
    assert cache == {"inbox4": 4, "inbox2": 20, "inbox5": 5}
