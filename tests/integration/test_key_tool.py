"""`switchboard.keys` without a network: `.env` written 0600 with keys in the Agent SDK's format, other lines kept,
existing keys refused unless forced; installations read from a verified identity log; revoke signs one update
for all but the kept installation, and refuses an unknown id, a keep that is not on the inbox, or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from xmtp_core.identity import verify_log
from xmtp_core.identity.builder import build_add_installation, build_register
from xmtp_core.identity.signer import InstallationKeySigner, LocalWalletSigner
from xmtp_core.node.models import IdentityUpdateLog

from switchboard.keys import KeyToolError, generate_env, inbox_info, revoke


def test_generate_env(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("NATS_URL=nats://x\n")
    keys = generate_env(env)
    text = env.read_text()
    assert "NATS_URL=nats://x" in text and f"XMTP_WALLET_KEY={keys['XMTP_WALLET_KEY']}" in text
    assert keys["XMTP_WALLET_KEY"].startswith("0x") and len(keys["XMTP_WALLET_KEY"]) == 66
    assert not keys["XMTP_DB_ENCRYPTION_KEY"].startswith("0x") and len(keys["XMTP_DB_ENCRYPTION_KEY"]) == 64
    assert env.stat().st_mode & 0o777 == 0o600
    with pytest.raises(KeyToolError):
        generate_env(env)
    again = generate_env(env, force=True)
    assert again != keys and env.read_text().count("XMTP_WALLET_KEY=") == 1


class FakeNode:
    def __init__(self, inbox: str, log: list[Any]) -> None:
        self.inbox, self.log = inbox, log
        self.published: list[Any] = []

    async def get_inbox_ids(self, addresses: list[str]) -> dict[str, str]:
        return {a: self.inbox for a in addresses}

    async def get_identity_updates(self, inboxes: dict[str, int]) -> dict[str, list[IdentityUpdateLog]]:
        entries = [*self.log, *self.published]
        return {self.inbox: [IdentityUpdateLog(n + 1, n, u) for n, u in enumerate(entries)]}

    async def publish_identity_update(self, update: Any) -> None:
        self.published.append(update)


async def _inbox() -> tuple[LocalWalletSigner, list[InstallationKeySigner], FakeNode]:
    wallet = LocalWalletSigner.generate()
    installs = [InstallationKeySigner.generate() for _ in range(3)]
    first = await build_register(wallet, installs[0])
    inbox = first.inbox_id
    log = [first, *[await build_add_installation(inbox, wallet, i) for i in installs[1:]]]
    return wallet, installs, FakeNode(inbox, log)


async def test_revoke_all_but_the_kept_installation() -> None:
    wallet, installs, node = await _inbox()
    info = await inbox_info(node, wallet)  # type: ignore[arg-type]
    ids = [i.identifier.public_key.hex() for i in installs]
    assert sorted(i.id for i in info.installations) == sorted(ids) and info.address == wallet.identifier.address
    revoked = await revoke(node, wallet, keep=ids[1])  # type: ignore[arg-type]
    assert sorted(revoked) == sorted([ids[0], ids[2]]) and len(node.published) == 1
    state = await verify_log([*node.log, *node.published])
    assert [k.hex() for k in state.installation_keys()] == [ids[1]]


async def test_revoke_refuses_what_it_cannot_do() -> None:
    wallet, installs, node = await _inbox()
    with pytest.raises(KeyToolError):
        await revoke(node, wallet, ids=["ab" * 32])  # type: ignore[arg-type]
    with pytest.raises(KeyToolError):
        await revoke(node, wallet, keep="cd" * 32)  # type: ignore[arg-type]
    with pytest.raises(KeyToolError):
        await revoke(node, wallet)  # type: ignore[arg-type]
    assert node.published == []
    revoked = await revoke(node, wallet, ids=[installs[2].identifier.public_key.hex()])  # type: ignore[arg-type]
    assert revoked == [installs[2].identifier.public_key.hex()]


def test_a_warning_near_the_installation_limit() -> None:
    from switchboard.keys import InboxInfo, Installation, limit_warning

    def info(n: int) -> InboxInfo:
        return InboxInfo("i", "0x", [Installation(f"{k:064x}", None) for k in range(n)], "0x")

    assert limit_warning(info(7)) is None
    assert "8 of 10" in (limit_warning(info(8)) or "") and "revoke" in (limit_warning(info(10)) or "")
