"""The receiver's settings, read from the environment (prefix `CATALOG_RECEIVER_`).

Every setting is checked when the service starts, with a message naming it: a wrong value must
stop the start, not surface later as a connection task that dies quietly (503 forever).
"""

from __future__ import annotations

import re
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from typing import Literal

from aiokafka import codec
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from catalog_contract.kafka_connection import KafkaConnection
from catalog_contract.topics import DEAD_LETTER_TOPIC, PRODUCT_TOPIC
from receiver.postback import DATA_POINTS
from receiver.readiness import READY_WAIT_MAX_S, READY_WAIT_MIN_S, READY_WAIT_S

MIN_SECRET_BYTES = 16
"""A shorter secret is guessable; an empty one let an empty header authenticate."""

_COMPRESSION_AVAILABLE = {
    "": lambda: True,
    "gzip": codec.has_gzip,
    "snappy": codec.has_snappy,
    "lz4": codec.has_lz4,
    "zstd": codec.has_zstd,
}
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


class ReceiverSettings(KafkaConnection):  # + the shared KAFKA_* connection settings
    # hide_input_in_errors: a refused secret must not appear in the error text.
    model_config = SettingsConfigDict(
        env_prefix="CATALOG_RECEIVER_", extra="ignore", hide_input_in_errors=True
    )

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        min_length=1,
        validation_alias=AliasChoices(
            "CATALOG_RECEIVER_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS", "bootstrap_servers"
        ),
    )
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=8080, ge=1, le=65535)
    # Processes serving `port`, each with a listening socket of its own (receiver.listening).
    workers: int = Field(default=1, ge=1, le=64)
    topic: str = PRODUCT_TOPIC
    dead_letter_topic: str = DEAD_LETTER_TOPIC

    # Authentication: the platform adds one custom header with a credential to every call.
    auth_header: str = "X-Postback-Token"
    secrets: list[SecretStr] = Field(default_factory=list)
    dev_mode: bool = False
    allowed_networks: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    # Proxies whose X-Forwarded-For is believed; also what uvicorn's forwarded_allow_ips gets
    # (empty: no proxy is trusted, not uvicorn's default of 127.0.0.1).
    trusted_proxies: list[IPv4Network | IPv6Network] = Field(default_factory=list)

    # Deployment's own template keys -> the platform's data-point names (CatalogId, ...).
    field_map: dict[str, str] = Field(default_factory=dict)

    # Bounds the body, and the query string of a GET postback alike.
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    # Longer than a leader failover (~10 s: the brokers' 9 s session timeout, then an election),
    # so a failover makes slower 200s, not 503s and a second copy from the platform's retry.
    produce_timeout_s: float = Field(default=30.0, gt=0)
    request_timeout_s: float = Field(default=15.0, gt=0)
    # How old the producer's view of the topic may grow: postbacks go to partitions added to
    # the topic within this (aiokafka's default, 5 minutes, kept them off the new ones that long).
    metadata_max_age_ms: int = Field(default=30_000, ge=100)
    # A stop (SIGTERM) ends within this: postbacks in flight get until 2 s before it (a quarter
    # of it, if shorter) for Kafka's acknowledgement, then those still waiting are answered 503
    # and the producer closed. Below Kubernetes' default 30 s grace, with room for the exit.
    shutdown_timeout_s: float = Field(default=25.0, gt=0)
    retry_after_s: int = Field(default=30, ge=0)
    # How long /readyz waits for the broker's metadata (receiver.readiness).
    ready_wait_s: float = Field(
        default=READY_WAIT_S, ge=READY_WAIT_MIN_S, le=READY_WAIT_MAX_S, allow_inf_nan=False
    )
    # An exact repeat within this many seconds is answered from memory, not written again.
    recent_window_s: float = Field(default=300.0, ge=0)
    # From this many postbacks awaiting Kafka on, a new batch lingers `linger_ms` and is
    # compressed, until fewer than half of it await; otherwise it leaves at once uncompressed
    # (receiver/produce_pacing.py). 1: always linger, the fixed pace of before.
    linger_from: int = Field(default=8, ge=1)
    # ... and only while postbacks recently waited at least this many times `linger_ms` for
    # their acknowledgement (0: the count alone decides, the pace of before).
    linger_from_wait: float = Field(default=1.5, ge=0)
    linger_ms: int = Field(default=5, ge=0)
    compression: Literal["", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    success_body: str | None = None
    # What a permanently invalid postback (400, 415, 422) is answered, once dead-lettered:
    # "reject" answers the 4xx (the platform retries until the mapping is fixed), "accept" answers
    # 200 with a receipt saying it was dead-lettered (the operator re-drives it later). A body
    # not kept whole (413) is always answered 413.
    invalid_answer: Literal["reject", "accept"] = "reject"
    # An identical refused request within this many seconds of its record is counted, not
    # written again; the window holds at most this many distinct requests.
    dead_letter_repeat_window_s: float = Field(default=3600.0, ge=0)
    dead_letter_repeat_max_entries: int = Field(default=10_000, ge=0)
    # A DateLastUpdated further than this ahead of the receiver's clock is refused (422).
    max_future_skew_s: float = Field(default=86_400.0, ge=0)

    @property
    def max_future_skew(self) -> timedelta:
        return timedelta(seconds=self.max_future_skew_s)

    @field_validator("secrets")
    @classmethod
    def _secrets_long_enough(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        for number, secret in enumerate(secrets, start=1):
            size = len(secret.get_secret_value().encode("utf-8"))
            if size < MIN_SECRET_BYTES:
                # Says which and how long, never the secret itself.
                raise ValueError(
                    f"secret #{number} has {size} bytes; each secret needs at least "
                    f"{MIN_SECRET_BYTES} (an empty or short secret is guessable)"
                )
        return secrets

    @field_validator("compression")
    @classmethod
    def _compression_available(cls, compression: str) -> str:
        if not _COMPRESSION_AVAILABLE[compression]():
            raise ValueError(f"compression {compression!r} needs a library that is not installed")
        return compression

    @field_validator("auth_header")
    @classmethod
    def _header_name(cls, name: str) -> str:
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"not an HTTP header name: {name!r}")
        return name

    @field_validator("topic", "dead_letter_topic")
    @classmethod
    def _topic_name(cls, name: str) -> str:
        if not _TOPIC_NAME.fullmatch(name):
            raise ValueError(f"not a Kafka topic name: {name!r} (letters, digits, '.', '_', '-')")
        return name

    @field_validator("field_map")
    @classmethod
    def _known_data_points(cls, field_map: dict[str, str]) -> dict[str, str]:
        known = {name.lower() for name in DATA_POINTS}
        unknown = sorted(name for name in field_map.values() if name.lower() not in known)
        if unknown:
            raise ValueError(
                f"maps onto unknown data points {unknown}; known: {', '.join(DATA_POINTS)}"
            )
        return field_map

    @model_validator(mode="after")
    def _secret_required(self) -> ReceiverSettings:
        if not self.secrets and not self.dev_mode:
            raise ValueError(
                "no secret configured: set CATALOG_RECEIVER_SECRETS='[\"...\"]' "
                "(or CATALOG_RECEIVER_DEV_MODE=true for local development only)"
            )
        return self
