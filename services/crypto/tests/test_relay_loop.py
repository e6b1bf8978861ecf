"""The relay's loop claims once per wake-up: a batch short of `BATCH` means the outbox is drained, so it waits
for the next commit (or the poll) instead of running a second, empty claim; a full batch claims again at once;
an envelope committed while a claim runs is not missed; drained, it polls every `IDLE_POLL_S`, but every
`POLL_S` while another replica holds the relay lock. (A unit test: `relay_once` is stubbed.)"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from crypto import relay
from crypto.relay import BATCH, OutboxRelay


class _Counted(OutboxRelay):
    def __init__(
        self, ready: asyncio.Event, answers: list[int], during: Any = None, *, contended: bool = False
    ) -> None:
        agent: Any = SimpleNamespace(name="echo", runtime=SimpleNamespace(core=SimpleNamespace(events_ready=ready)))
        super().__init__(agent, None, None)  # type: ignore[arg-type]
        self.answers, self.claims, self.during, self.lock_held = answers, 0, during, contended

    async def relay_once(self) -> int:
        self.claims += 1
        self.contended = self.lock_held
        if self.during is not None and self.claims == 1:
            self.during()  # an envelope's commit while the claim runs
        return self.answers.pop(0) if self.answers else 0


async def _run(relayer: _Counted, seconds: float) -> None:
    task = asyncio.create_task(relayer.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_short_batch_waits_for_the_next_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay, "IDLE_POLL_S", 30.0)
    ready = asyncio.Event()
    relayer = _Counted(ready, [1])
    ready.set()
    await _run(relayer, 0.2)
    assert relayer.claims == 1


async def test_a_full_batch_claims_again_and_a_commit_during_a_claim_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay, "IDLE_POLL_S", 30.0)
    ready = asyncio.Event()
    full = _Counted(ready, [BATCH, 3])
    await _run(full, 0.2)
    assert full.claims == 2
    ready = asyncio.Event()
    raced = _Counted(ready, [1, 1], during=ready.set)
    await _run(raced, 0.2)
    assert raced.claims == 2  # the flag set during the first claim woke the second


async def test_an_idle_relay_polls_slowly_unless_another_replica_holds_the_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(relay, "POLL_S", 0.05)
    monkeypatch.setattr(relay, "IDLE_POLL_S", 0.4)
    idle = _Counted(asyncio.Event(), [])
    await _run(idle, 0.6)
    assert idle.claims == 2  # at once, then one idle poll
    contended = _Counted(asyncio.Event(), [], contended=True)
    await _run(contended, 0.6)
    assert contended.claims >= 6
