"""The chat page (web/, XMTP's browser SDK 7.1.0 = libxmtp 1.11.0 as WebAssembly) in Debian's headless Chromium,
driven by playwright-core in real time: it registers a fresh identity on devnode over gRPC-web, opens a DM with
the echo agent (the whole pipeline as processes), and sees `pong` for `ping` and `echo: T` for a text, then the
agent's reaction, reply (quoting the message) and markdown rendered, and the group `/group-with-me` makes, with
its name and members. The screenshots are kept under the test's tmp dir (their paths are printed). What 1.11
put on the wire is read back from devnode and pinned (`WIRE_1_11`)."""

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
from test_bindings_interop import WIRE

from switchboard.devservices import DevServices
from switchboard.stack import WEB_DIST, serve_chat

pytestmark = [pytest.mark.interop, pytest.mark.grpc_web]
ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("driver.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


# What libxmtp 1.11.0 (browser) put on the wire, against what 1.9.1 / 1.10.0 put (WIRE of test_bindings_interop):
# its key package is 4 bytes longer, because the leaf advertises AppDataDictionary 0x0006 (and lists 0xF000
# earlier) and the AppDataUpdate proposal 8. Everything else read here is unchanged.
CHANGED_IN_1_11 = {
    "key_package_bytes": 1663,
    "leaf_extensions": (0x000A, 0x0001, 0xF000, 0x0006, 0xFF02, 0xFF00, 0xFF01, 0xFF03, 0xFF04),
    "proposals": (7, 8),
}
UNCHANGED = (
    "cipher_suite", "wrapper_algorithm", "wrapper_public_key_bytes", "pointee_aead_types", "last_resort",
    "lifetime_seconds", "key_package_extensions", "welcome_kind", "welcome_wrapper_algorithm",
    "welcome_has_metadata", "dm_messages", "sender_hmac_bytes",
)  # fmt: skip


async def _wire(node: RunningNode, agent_inbox: str) -> dict[str, Any]:
    """What the browser's libxmtp 1.11 put on the wire, read back from devnode's tables (the same facts
    tests/interop/test_bindings_interop.py pins for 1.9.1 and 1.10.0)."""
    import sqlalchemy as sa
    from devnode import schema
    from devnode.models import WelcomeKind
    from xmtp_core.node import WelcomeKind as NodeWelcomeKind
    from xmtp_core.xmtp_mls.key_package import parse_key_package

    async with node.engine.connect() as conn:

        async def rows(table: sa.Table) -> list[Any]:
            return list((await conn.execute(sa.select(table).order_by(*table.primary_key))).mappings())

        kps, welcomes, messages = [
            await rows(t) for t in (schema.key_packages, schema.welcome_messages, schema.group_messages)
        ]
    (browser_kp,) = [row for row in kps if row["inbox_id"] != agent_inbox]
    kp = parse_key_package(browser_kp["key_package"])
    caps = kp.key_package.leaf_node.capabilities
    # The DM is the browser's: its group is the one of the first group message (the DM's commit).
    dm_group = messages[0]["group_id"]
    dm = [(m["is_commit"], m["should_push"]) for m in messages if m["group_id"] == dm_group]
    wrapper = kp.wrapper
    return dict(
        key_package_bytes=len(browser_kp["key_package"]), cipher_suite=kp.key_package.cipher_suite,
        wrapper_algorithm=int(wrapper.algorithm), wrapper_public_key_bytes=len(wrapper.public_key),
        pointee_aead_types=kp.pointee_aead_types, last_resort=kp.last_resort,
        lifetime_seconds=kp.not_after - kp.not_before, leaf_extensions=caps.extensions, proposals=caps.proposals,
        key_package_extensions=tuple(e.extension_type for e in kp.key_package.extensions),
        welcome_kind=NodeWelcomeKind[WelcomeKind(welcomes[0]["message_type"]).name],
        welcome_wrapper_algorithm=welcomes[0]["wrapper_algorithm"],
        welcome_has_metadata=bool(welcomes[0]["welcome_metadata"]), dm_messages=dm[:2],
        sender_hmac_bytes={len(m["sender_hmac"]) for m in messages},
    )  # fmt: skip


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
    seen = await _wire(devnode, stack.agent_inbox_id)
    print(f"libxmtp 1.11 on the wire: {seen}")
    assert seen == {**{key: WIRE[key] for key in UNCHANGED}, **CHANGED_IN_1_11}
    print(f"browser steps (s since launch): {result['steps']}; whole test {time.monotonic() - started:.1f}s")
