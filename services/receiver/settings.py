"""The receiver's settings, read from the environment (prefix `CATALOG_RECEIVER_`)."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from catalog_contract.kafka_connection import KafkaConnection
from catalog_contract.topics import DEAD_LETTER_TOPIC, PRODUCT_TOPIC


class ReceiverSettings(KafkaConnection):  # + the shared KAFKA_* connection settings
    model_config = SettingsConfigDict(env_prefix="CATALOG_RECEIVER_", extra="ignore")

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "CATALOG_RECEIVER_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS", "bootstrap_servers"
        ),
    )
    host: str = "127.0.0.1"
    port: int = 8080
    topic: str = PRODUCT_TOPIC
    dead_letter_topic: str = DEAD_LETTER_TOPIC

    # Authentication: the platform adds one custom header with a credential to every call.
    auth_header: str = "X-Postback-Token"
    secrets: list[SecretStr] = Field(default_factory=list)
    dev_mode: bool = False
    allowed_networks: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=list)

    # Deployment's own template keys -> the platform's data-point names (CatalogId, ...).
    field_map: dict[str, str] = Field(default_factory=dict)

    max_body_bytes: int = 256 * 1024
    # Longer than a leader failover (~10 s: the brokers' 9 s session timeout, then an election),
    # so a failover makes slower 200s, not 503s and a second copy from the platform's retry.
    produce_timeout_s: float = 30.0
    request_timeout_s: float = 15.0
    retry_after_s: int = 30
    # An exact repeat within this many seconds is answered from memory, not written again.
    recent_window_s: float = 300.0
    linger_ms: int = 5
    compression: str = "lz4"
    success_body: str | None = None
    # What a permanently invalid postback (400, 415, 422) is answered, once dead-lettered:
    # "reject" answers the 4xx (the platform retries until the mapping is fixed), "accept" answers
    # 200 with a receipt saying it was dead-lettered (the operator re-drives it later). A body
    # not kept whole (413) is always answered 413.
    invalid_answer: Literal["reject", "accept"] = "reject"
    # An identical refused request within this many seconds of its record is counted, not
    # written again; the window holds at most this many distinct requests.
    dead_letter_repeat_window_s: float = 3600.0
    dead_letter_repeat_max_entries: int = 10_000

    @model_validator(mode="after")
    def _secret_required(self) -> ReceiverSettings:
        if not self.secrets and not self.dev_mode:
            raise ValueError(
                "no secret configured: set CATALOG_RECEIVER_SECRETS='[\"...\"]' "
                "(or CATALOG_RECEIVER_DEV_MODE=true for local development only)"
            )
        return self
