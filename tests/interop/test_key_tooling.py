"""The key tooling against the pipeline and libxmtp 1.9.1: `switchboard keys gen` writes a `.env` whose keys run a
working agent (the echo agent answers ping); libxmtp adds two more installations to the agent's inbox with the
same wallet; `switchboard inbox info` lists all three; `switchboard installations revoke` (the current one read
from NATS) leaves only the agent's, as libxmtp's inboxState shows; the agent still answers; `test-url`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from peer import LibxmtpPeer
from pipelinekit import Stack, from_agent, wait_for

from switchboard.devservices import DevServices
from switchboard.keys import current_installation

pytestmark = pytest.mark.interop
SWITCHBOARD = str(Path(sys.executable).parent / "switchboard")


async def _cli(*args: str, env: dict[str, str], cwd: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        SWITCHBOARD, *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_keys_gen_inbox_info_and_revoke_all_but_the_current_installation(
    peer: LibxmtpPeer, devnode_url: str, database_url: str, services: DevServices, tmp_path: Path
) -> None:
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("XMTP_")}
    generated = await _cli("keys", "gen", env=clean_env, cwd=tmp_path)
    keys = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if "=" in line)
    assert keys["XMTP_WALLET_KEY"].startswith("0x") and len(keys["XMTP_DB_ENCRYPTION_KEY"]) == 64
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    async with Stack.start(devnode_url, database_url, services.nats_url, extra_env=keys) as stack:
        assert stack.agent_address.lower() in generated.lower()
        agent = stack.agent_inbox_id
        await peer.create("alice", devnode_url)
        dm = (await peer.create_dm("alice", agent))["id"]

        async def pong(count: int) -> Any:
            async def probe() -> list[Any]:
                return [m["content"] for m in from_agent(await peer.messages("alice", dm), agent)]

            return await wait_for(probe, lambda got: got.count("pong") >= count, within=120)

        await peer.send_text("alice", dm, "ping")
        await pong(1)
        for twin in ("twin1", "twin2"):  # the same wallet: more installations of the agent's inbox
            await peer.create(twin, devnode_url, private_key=keys["XMTP_WALLET_KEY"])
        assert len((await peer.inbox_state("alice", agent))["installationIds"]) == 3

        env = {**clean_env, "XMTP_ENV": "local", "XMTP_API_URL": devnode_url, "NATS_URL": services.nats_url}
        info = await _cli("inbox", "info", env=env, cwd=tmp_path)
        assert f"inbox id: {agent}" in info and "installations: 3" in info
        current = await current_installation(services.nats_url, "echo")
        assert current is not None and current in info
        revoked = await _cli("installations", "revoke", "--agent", "echo", env=env, cwd=tmp_path)
        assert "revoked 2 installation(s)" in revoked and current not in revoked
        state = await peer.inbox_state("alice", agent)
        assert state["installationIds"] == [current]

        await peer.send_text("alice", dm, "ping")
        await pong(2)
        url = await _cli("test-url", env=env, cwd=tmp_path)
        assert url.strip() == f"http://xmtp.chat/local/dm/{stack.agent_address.lower()}"
