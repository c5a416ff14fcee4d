"""The projector's settings, read from the environment (prefix `CATALOG_PROJECTOR_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from catalog_contract.kafka_connection import KafkaConnection
from catalog_contract.topics import DEAD_LETTER_TOPIC, PRODUCT_TOPIC, PROJECTOR_DEAD_LETTER_TOPIC


class ProjectorSettings(KafkaConnection):  # + the shared KAFKA_* connection settings
    model_config = SettingsConfigDict(env_prefix="CATALOG_PROJECTOR_", extra="ignore")

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices(
            "CATALOG_PROJECTOR_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS", "bootstrap_servers"
        ),
    )
    host: str = "127.0.0.1"
    port: int = 8081
    topic: str = PRODUCT_TOPIC
    group_id: str = "catalog-stream-projector"
    # Records the views cannot apply (undecodable, or refused by the store) are kept here.
    dead_letter_topic: str = PROJECTOR_DEAD_LETTER_TOPIC
    # sqlite:///path/to/views.db (embedded default) or postgresql://user@host/db
    store_url: str = "sqlite:///.state/views.db"
    batch_max_records: int = 1000
    # A crashed instance's partitions move to the others after this long without heartbeats.
    session_timeout_ms: int = 10_000
    poll_timeout_ms: int = 200
    ready_max_lag: int = 1000
    read_your_writes_max_wait_s: float = 5.0
    # Write an item's full state to the topic when its last record there does not say it (a
    # partial postback, a stale retry), so a replay after compaction rebuilds the same views.
    restate: bool = True
    restate_timeout_s: float = 10.0
    # The status page counts the receiver's dead letters on this topic.
    receiver_dead_letter_topic: str = DEAD_LETTER_TOPIC
    # Catalogs with delivery statistics (and Prometheus series) of their own; the rest are
    # added up under catalog "_other", so the metrics' label set stays bounded.
    delivery_max_catalogs: int = Field(default=100, ge=1, le=10_000)

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        return Path(self.store_url[len(prefix) :]) if self.store_url.startswith(prefix) else None
