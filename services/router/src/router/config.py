"""The Agent SDK's environment, read the way `Agent.createFromEnv` reads it, for an agent run by Switchboard.

In the pipeline the keys are crypto's (it holds the installation); the router reads the same names so one
`.env` serves both and the agent knows its address before crypto answers: `XMTP_WALLET_KEY` (0x-hex, else
`AgentError` 1000), `XMTP_DB_ENCRYPTION_KEY` (hex, 0x optional, normalised to 0x), `XMTP_ENV` (one of the
seven network names, anything else ignored, as the SDK), `XMTP_GATEWAY_HOST`, `XMTP_DB_DIRECTORY`,
`XMTP_FORCE_DEBUG_LEVEL` (off/error/warn/info/debug/trace, case-insensitive; an invalid value logs a warning
and means warn). `XMTP_FORCE_DEBUG` was removed in the SDK's 2.0 and is not read."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Final

from xmtp_core.identity.signatures import address_from_private_key
from xmtp_core.untrusted import clean

log = logging.getLogger(__name__)

ENVS: Final = ("local", "dev", "production", "testnet-staging", "testnet-dev", "testnet", "mainnet")
LOG_LEVELS: Final = {
    "off": logging.CRITICAL + 10, "error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO,
    "debug": logging.DEBUG, "trace": logging.DEBUG - 5,
}  # fmt: skip
_HEX_KEY = re.compile(r"^0x[0-9a-fA-F]{64}$")
_HEX = re.compile(r"^(?:0x)?[0-9a-fA-F]{64}$")


class ConfigError(ValueError):
    """A setting the Agent SDK would refuse; `code` is the SDK's AgentError code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AgentConfig:
    wallet_key: str | None = None
    db_encryption_key: str | None = None
    env: str | None = None
    gateway_host: str | None = None
    db_directory: str | None = None
    log_level: int = logging.WARNING

    def __repr__(self) -> str:  # keys never in a repr
        return f"AgentConfig(env={self.env}, gateway_host={self.gateway_host}, keys=<hidden>)"

    @property
    def address(self) -> str:
        """The wallet's lowercase address ("" without a wallet key)."""
        if self.wallet_key is None:
            return ""
        return address_from_private_key(bytes.fromhex(self.wallet_key[2:])).address

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> AgentConfig:
        values = dict(os.environ) if env is None else env
        wallet = values.get("XMTP_WALLET_KEY") or None
        if wallet is not None and not _HEX_KEY.match(wallet):
            raise ConfigError(1000, "XMTP_WALLET_KEY must be a 0x-prefixed 32-byte hex private key")
        db_key = values.get("XMTP_DB_ENCRYPTION_KEY") or None
        if db_key is not None:
            if not _HEX.match(db_key):
                raise ConfigError(1000, "XMTP_DB_ENCRYPTION_KEY must be 32 bytes of hex")
            db_key = db_key if db_key.startswith("0x") else "0x" + db_key
        network = values.get("XMTP_ENV") or None
        if network is not None and network not in ENVS:
            network = None  # the SDK ignores an unknown network silently
        return cls(
            wallet, db_key, network, values.get("XMTP_GATEWAY_HOST") or None, values.get("XMTP_DB_DIRECTORY") or None,
            parse_log_level(values.get("XMTP_FORCE_DEBUG_LEVEL")),
        )  # fmt: skip


def parse_log_level(value: str | None) -> int:
    """`XMTP_FORCE_DEBUG_LEVEL` as a logging level; unset is warn, an invalid value warns and is warn."""
    if not value:
        return logging.WARNING
    level = LOG_LEVELS.get(value.strip().lower())
    if level is None:
        log.warning("XMTP_FORCE_DEBUG_LEVEL=%s is not one of %s; using warn", clean(value, 40), ", ".join(LOG_LEVELS))
        return logging.WARNING
    return level


def valid_log_levels() -> list[str]:
    return list(LOG_LEVELS)
