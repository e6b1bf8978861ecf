"""The chat page (web/, XMTP's browser SDK 7.1.0 = libxmtp 1.11.0 as WebAssembly) in Debian's headless Chromium,
driven by playwright-core in real time: it registers a fresh identity on devnode over gRPC-web, opens a DM with
the echo agent (the whole pipeline as processes), and sees `pong` for `ping` and `echo: T` for a text, then the
agent's reaction, reply (quoting the message) and markdown rendered, and the group `/group-with-me` makes, with
its name and members. The screenshots are kept under the test's tmp dir (their paths are printed)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from devnode.main import RunningNode
from pipelinekit import Stack

from switchboard.devservices import DevServices
from switchboard.stack import WEB_DIST, serve_chat

pytestmark = [pytest.mark.interop, pytest.mark.grpc_web]
ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("driver.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    if not (WEB_DIST / "index.html").exists():
        return f"{WEB_DIST} is not built: run `make web`"
    if not (ROOT / "web/node_modules/playwright-core").exists():
        return "playwright-core is not installed: run `make web`"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing: run `make browser` (apt-get install -y chromium)"
    return None


async def test_browser_registers_on_grpc_web_and_talks_to_the_echo_agent(
    devnode: RunningNode, database_url: str, services: DevServices, tmp_path: Path
) -> None:
    problem = _missing()
    if problem:
        pytest.fail(problem, pytrace=False)  # a missing browser fails: it never skips
    started = time.monotonic()
    async with Stack.start(f"http://127.0.0.1:{devnode.port}", database_url, services.nats_url) as stack:
        grpc_web = f"http://127.0.0.1:{devnode.grpc_web_port}"
        chat = serve_chat(WEB_DIST, {"grpcWebUrl": grpc_web, "agentAddress": stack.agent_address}, "127.0.0.1", 0)
        try:
            screenshot = tmp_path / "chat.png"
            url = f"http://127.0.0.1:{chat.server_port}/?ephemeral=1"
            proc = await asyncio.create_subprocess_exec(
                "node", str(DRIVER), url, str(screenshot), "hello browser",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate(), 300)
        finally:
            chat.shutdown()
            chat.server_close()
        print(f"screenshot: {screenshot}")
        lines = out.decode(errors="replace").strip().splitlines()
        assert lines, f"driver printed nothing: {err.decode(errors='replace')[-2000:]}"
        result: dict[str, Any] = json.loads(lines[-1])
        if not result["ok"]:
            stack.dump_logs()
        assert result["ok"], json.dumps(result, indent=1)
        assert "pong" in result["bodies"] and "echo: hello browser" in result["bodies"]
        assert "libxmtp 1.11" in result["me"], result["me"]
        assert stack.agent_address.lower() in result["members"].lower()  # the agent's group, with both members
        assert "welcome" in result["groupBodies"]
    print(f"browser steps (s since launch): {result['steps']}; whole test {time.monotonic() - started:.1f}s")
