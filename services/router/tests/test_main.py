"""`switchboard router` with several `--app`: one process, one NATS connection, a worker per agent on real NATS
JetStream; each agent gets its own events only; two apps with one agent name are refused."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from router.main import load_apps, serve
from xmtp_core.bus.client import publish_event
from xmtp_core.bus.schemas import ConversationInfo, JoinedEvent, MessageEvent
from xmtp_core.bus.settings import BusSettings
from xmtp_core.content import default_registry

pytestmark = pytest.mark.integration

APPS = Path(__file__).parent / "apps"


@pytest.fixture(autouse=True)
def _apps_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(APPS))
    monkeypatch.chdir(APPS)


def _events(agent: str, conv: str, text: str) -> list[JoinedEvent | MessageEvent]:
    info = ConversationInfo(conversation_id=conv, kind="dm")
    encoded = default_registry().encode(text)
    joined = JoinedEvent(agent=agent, event_id=f"join-{agent}", conversation=info)
    message = MessageEvent(
        agent=agent, event_id=f"msg-{agent}", message_id="ab" * 32, conversation_id=conv,
        sender_inbox_id="inbox-p", sender_installation="ee" * 32, sent_ns=1, content_type=str(encoded.type),
        encoded_content=encoded.to_bytes(),
    )  # fmt: skip
    return [joined, message]


def test_two_apps_with_one_agent_name_are_refused() -> None:
    with pytest.raises(ValueError, match="same agent name"):
        load_apps(["two_agents:first", "two_agents:twin"])
    assert [a.name for a in load_apps(["two_agents:first", "two_agents:second"])] == ["multi_a", "multi_b"]


async def test_one_router_process_runs_each_agent_on_its_own_events(
    js: JetStreamContext, settings: BusSettings
) -> None:
    import two_agents

    two_agents.seen.clear()
    for event in _events("multi_a", "c1" * 16, "for a") + _events("multi_b", "c2" * 16, "for b"):
        await publish_event(js, event)
    router = asyncio.create_task(serve(["two_agents:first", "two_agents:second"], settings))
    try:
        async with asyncio.timeout(30):
            while len(two_agents.seen) < 2:
                assert not router.done(), router
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # nothing more arrives: each event went to its agent once
        assert sorted(two_agents.seen) == [("multi_a", "for a"), ("multi_b", "for b")]
    finally:
        router.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await router
