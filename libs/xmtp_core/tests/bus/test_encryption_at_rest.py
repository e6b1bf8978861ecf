"""JetStream encryption at rest on the private nats-server: a canary written through JetStream is not in the
store's files, and is with encryption off (so the check can fail)."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig

from switchboard.devservices import DevServices, _stop, start_nats

pytestmark = pytest.mark.integration


async def _write_canary(url: str, canary: bytes) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="CANARY", subjects=["canary.>"]))
    for _ in range(3):
        await js.publish("canary.x", b"<" + canary + b">", stream="CANARY")
    await nc.close()


def _store_holds(store: Path, canary: bytes) -> bool:
    return any(canary in f.read_bytes() for f in store.rglob("*") if f.is_file())


@pytest.mark.parametrize("encrypt", [True, False])
def test_canary_is_not_in_the_store_files(encrypt: bool) -> None:
    canary = b"canary-" + secrets.token_hex(16).encode()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        svc = DevServices(nats_url="", database_url="")
        try:
            url = start_nats(workdir, svc, encrypt=encrypt)
            asyncio.run(_write_canary(url, canary))
        finally:
            for proc in svc._procs:
                _stop(proc)  # flushes the store
        store = workdir / "nats-js"
        assert any(f.stat().st_size > 0 for f in store.rglob("*.blk"))
        assert _store_holds(store, canary) is (not encrypt)
