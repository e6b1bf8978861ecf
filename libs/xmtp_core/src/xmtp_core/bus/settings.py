"""Bus and service settings from the environment (one pydantic-settings class for every service on the bus)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from xmtp_core.bus import subjects


class BusSettings(BaseSettings):
    """`NATS_URL`, `SB_PARTITIONS`, `SB_AGENTS`, ... (see each field).

    `partitions` is fixed per deployment: the streams' subject transforms and the consumers' filters are built
    from it, and changing it moves conversations between partitions (drain the streams first).
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # One server, or a cluster's servers separated by commas (the client starts from any that answers).
    nats_url: str = Field(default="nats://127.0.0.1:4222", validation_alias="NATS_URL")
    partitions: int = Field(default=8, ge=1, le=1024, validation_alias="SB_PARTITIONS")
    # Which agents a service handles; empty means every agent found in the `sb_agents` KV bucket.
    agents: Annotated[list[str], NoDecode] = Field(default_factory=list, validation_alias="SB_AGENTS")
    replicas: int = Field(default=1, ge=1, le=5, validation_alias="SB_STREAM_REPLICAS")
    duplicate_window_s: float = Field(default=2 * 60 * 60, gt=0, validation_alias="SB_DUPLICATE_WINDOW_S")
    ack_wait_s: float = Field(default=30.0, gt=0, validation_alias="SB_ACK_WAIT_S")
    max_deliver: int = Field(default=5, ge=1, le=1000, validation_alias="SB_MAX_DELIVER")
    nak_delay_s: float = Field(default=1.0, ge=0, validation_alias="SB_NAK_DELAY_S")
    max_redeliveries: int = Field(default=1000, ge=1, validation_alias="SB_MAX_REDELIVERIES")  # any reason, crashes too
    # Publishes waiting for their PubAck, per agent (ingest).
    max_in_flight: int = Field(default=64, ge=1, le=10_000, validation_alias="SB_MAX_IN_FLIGHT")

    @property
    def nats_servers(self) -> list[str]:
        """`NATS_URL` as nats-py's server list: `nats://a:4222,nats://b:4222` names two servers of one cluster."""
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    @field_validator("agents", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [a.strip() for a in value.split(",") if a.strip()]
        return value

    @field_validator("agents")
    @classmethod
    def _valid_agents(cls, value: list[str]) -> list[str]:
        return [subjects.agent_token(a) for a in value]
