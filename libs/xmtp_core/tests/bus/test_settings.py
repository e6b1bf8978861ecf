"""`NATS_URL` as one server or a cluster's comma-separated list (what nats-py's `servers` takes)."""

from __future__ import annotations

import pytest
from xmtp_core.bus.settings import BusSettings


def test_one_url_is_a_list_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://127.0.0.1:4222")
    assert BusSettings().nats_servers == ["nats://127.0.0.1:4222"]


def test_a_cluster_is_every_server_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", " nats://a:1, nats://b:2,,nats://c:3 ")
    assert BusSettings().nats_servers == ["nats://a:1", "nats://b:2", "nats://c:3"]
