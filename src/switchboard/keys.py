"""Key tooling behind `switchboard keys gen`, `inbox info`, `installations revoke` and `test-url` (the Agent SDK's
`gen:keys`, `logDetails` / `getInstallationInfo`, libxmtp's `revokeInstallations` and `getTestUrl`).

The wallet key comes from `XMTP_WALLET_KEY` (or `.env`); the node from `XMTP_ENV` / `XMTP_API_URL`. The
inbox's installations are read from its identity log, replayed and verified here (the node's word is not
taken). "Current" is the installation crypto registered for the agent (KV `sb_agents` on `NATS_URL`), unless
named with `--current`. A revoke is one identity update signed by the wallet (the inbox's recovery address)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from xmtp_core.identity import verify_log
from xmtp_core.identity.builder import UpdateBuilder
from xmtp_core.identity.identifiers import InstallationKey, MemberKind
from xmtp_core.identity.inbox_id import inbox_id as derive_inbox_id
from xmtp_core.identity.signer import LocalWalletSigner
from xmtp_core.node import NodeClient

INSTALLATION_LIMIT = 10  # libxmtp refuses an 11th installation on an inbox
ENV_HEADER = "# written by `switchboard keys gen`: an agent's keys (keep it out of git)\n"


class KeyToolError(Exception):
    """A key-tool request that cannot be done (existing keys, no inbox, unknown installation)."""


def generate_env(env_file: Path, *, force: bool = False) -> dict[str, str]:
    """Write fresh `XMTP_WALLET_KEY` (0x + 32 bytes hex) and `XMTP_DB_ENCRYPTION_KEY` (32 bytes hex, no 0x, as the
    Agent SDK's gen:keys) to ``env_file`` (0600); an existing key there is kept unless ``force``."""
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    names = ("XMTP_WALLET_KEY=", "XMTP_DB_ENCRYPTION_KEY=")
    if not force and any(line.startswith(names) for line in lines):
        raise KeyToolError(f"{env_file} already holds agent keys (use --force to replace them)")
    keys = {"XMTP_WALLET_KEY": "0x" + secrets.token_hex(32), "XMTP_DB_ENCRYPTION_KEY": secrets.token_hex(32)}
    kept = [line for line in lines if not line.startswith(names) and line != ENV_HEADER.strip()]
    env_file.touch(mode=0o600, exist_ok=True)
    env_file.chmod(0o600)  # before the keys are in it
    body = [*kept, *(f"{k}={v}" for k, v in keys.items())]
    env_file.write_text(ENV_HEADER + "\n".join(body) + "\n")
    return keys


@dataclass(frozen=True)
class Installation:
    id: str  # hex of the installation's public key (libxmtp's installation id)
    created_ns: int | None


@dataclass(frozen=True)
class InboxInfo:
    inbox_id: str
    address: str
    installations: list[Installation]
    recovery_address: str


async def inbox_info(node: NodeClient, wallet: LocalWalletSigner) -> InboxInfo:
    address = wallet.identifier.address
    inbox = (await node.get_inbox_ids([address])).get(address) or derive_inbox_id(wallet.identifier, 0)
    logs = (await node.get_identity_updates({inbox: 0})).get(inbox, [])
    if not logs:
        raise KeyToolError(f"inbox {inbox} is not registered on this node")
    state = await verify_log([e.update for e in sorted(logs, key=lambda e: e.sequence_id)])
    installations = [
        Installation(m.identifier.public_key.hex(), m.client_timestamp_ns)
        for m in state.members_by_kind(MemberKind.INSTALLATION)
        if isinstance(m.identifier, InstallationKey)
    ]
    recovery = getattr(state.recovery_identifier, "address", "")
    return InboxInfo(inbox, address, installations, recovery)


def limit_warning(info: InboxInfo) -> str | None:
    """A warning when the inbox is two installations or fewer from libxmtp's limit (the Agent SDK warns too)."""
    count = len(info.installations)
    if count < INSTALLATION_LIMIT - 2:
        return None
    return (
        f"warning: {count} of {INSTALLATION_LIMIT} installations; a new one is refused at the limit "
        "(`switchboard installations revoke` removes all but the current one)"
    )


async def revoke(
    node: NodeClient, wallet: LocalWalletSigner, *, keep: str | None = None, ids: list[str] | None = None
) -> list[str]:
    """Revoke the installations ``ids``, or all but ``keep``; returns the revoked ids (hex)."""
    info = await inbox_info(node, wallet)
    if info.recovery_address and info.recovery_address != wallet.identifier.address:
        raise KeyToolError("this wallet is not the inbox's recovery address: it cannot revoke installations")
    known = {i.id for i in info.installations}
    if ids:
        wanted = [i.lower().removeprefix("0x") for i in ids]
        unknown = [i for i in wanted if i not in known]
        if unknown:
            raise KeyToolError(f"not installations of {info.inbox_id}: {', '.join(u[:16] for u in unknown)}")
    elif keep:
        keep = keep.lower().removeprefix("0x")
        if keep not in known:
            raise KeyToolError("the current installation is not on the inbox; refusing to revoke them all")
        wanted = sorted(known - {keep})
    else:
        raise KeyToolError("name the installations to revoke, or the current one to keep")
    if not wanted:
        return []
    builder = UpdateBuilder(info.inbox_id)
    for installation in wanted:
        builder.revoke(wallet, InstallationKey(bytes.fromhex(installation)))
    await node.publish_identity_update(await builder.build())
    return wanted


def environment(env_file: Path) -> dict[str, str]:
    """The process environment over the `KEY=value` lines of ``env_file`` (the environment wins)."""
    values: dict[str, str] = {}
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.startswith("#"):
                values[name.strip()] = value.strip()
    return {**values, **os.environ}


async def current_installation(nats_url: str, agent: str) -> str | None:
    """The installation crypto registered for ``agent`` (KV `sb_agents`), None when there is none."""
    import contextlib

    import nats
    from nats.js.errors import KeyNotFoundError
    from xmtp_core.bus import kv as bus_kv
    from xmtp_core.bus import subjects
    from xmtp_core.bus.schemas import parse

    nc = await nats.connect(nats_url, max_reconnect_attempts=1)
    try:
        with contextlib.suppress(KeyNotFoundError):
            entry = await (await nc.jetstream().key_value(subjects.KV_AGENTS)).get(agent)
            if entry.value:
                key: str = parse(bus_kv.AgentRecord, entry.value).installation_key
                return key
        return None
    finally:
        await nc.close()
