"""The projector's settings, read from the environment (prefix `CATALOG_PROJECTOR_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from catalog_contract.kafka_connection import KafkaConnection
from catalog_contract.topics import DEAD_LETTER_TOPIC, PRODUCT_TOPIC, PROJECTOR_DEAD_LETTER_TOPIC

ADMIN_TOKEN_MIN_BYTES = 16


class ProjectorSettings(KafkaConnection):  # + the shared KAFKA_* connection settings
    # hide_input_in_errors: a refused setting (the admin token) is never echoed in the error.
    model_config = SettingsConfigDict(
        env_prefix="CATALOG_PROJECTOR_", extra="ignore", hide_input_in_errors=True
    )

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
    # sqlite:///path/to/views.db (embedded default) or postgresql://user@host/db; a connect
    # waits at most the URL's connect_timeout (5 s unless it says: ?connect_timeout=2).
    store_url: str = "sqlite:///.state/views.db"
    batch_max_records: int = 1000
    # A crashed instance's partitions move to the others after this long without heartbeats.
    session_timeout_ms: int = 10_000
    # Longer than this between two polls (a view store outage: the consumer waits for the store,
    # not for Kafka) and the consumer leaves the group; it rejoins at its next poll.
    max_poll_interval_ms: int = Field(default=300_000, ge=1000)
    poll_timeout_ms: int = 200
    # How old the consumer's view of the topic (its partitions, their leaders) may grow before
    # it is asked again: partitions added to the topic are read, and assigned across the
    # group, within this. aiokafka's (and Kafka's) default, 5 minutes, left a postback to a
    # new partition out of the views that long; a metadata request each 30 s costs nothing.
    metadata_max_age_ms: int = Field(default=30_000, ge=100)
    ready_max_lag: int = 1000
    read_your_writes_max_wait_s: float = 5.0
    # Write an item's full state to the topic when its last record there does not say it (a
    # partial postback, a stale retry), so a replay after compaction rebuilds the same views.
    restate: bool = True
    # Processes a SQLite rebuild loads the topic with, up to the active generation's positions
    # (rebuild_split.py); 1: the builder loads it alone. PostgreSQL rebuilds load in one.
    rebuild_workers: int = Field(default=2, ge=1, le=8)
    # A first start (SQLite views that applied nothing) on a topic of at least this many
    # records catches up in parts too, on `rebuild_workers` processes (first_load.py); 0: never.
    # Below it, starting processes and merging costs more than the second core saves; the look
    # at the topic's bounds (before the live consumer starts) is a few round trips, bounded.
    first_load_min_records: int = Field(default=100_000, ge=0)
    restate_timeout_s: float = 10.0
    # A restatement whose write failed is owed and written again: first after 1 s, then after
    # twice as long each time it fails again, at most this long; at most `per_round` each time.
    restate_retry_max_s: float = Field(default=60.0, gt=0)
    restate_retry_per_round: int = Field(default=500, ge=1)
    # The status page counts the receiver's dead letters on this topic.
    receiver_dead_letter_topic: str = DEAD_LETTER_TOPIC
    # Catalogs with delivery statistics (and Prometheus series) of their own; the rest are
    # added up under catalog "_other", so the metrics' label set stays bounded.
    delivery_max_catalogs: int = Field(default=100, ge=1, le=10_000)
    # `Authorization: Bearer <token>` for /v1/admin/*; unset, the admin endpoints refuse all.
    admin_token: SecretStr | None = None
    # Open change streams (SSE) at most; past it, 503 with Retry-After.
    stream_max: int = Field(default=100, ge=0)
    stream_retry_after_s: int = Field(default=5, ge=1)
    # A client that takes no byte of its answer for this long, the buffers between us full, is
    # cut (runtime_support.stalled_readers): a stream it stopped reading held its slot for ever.
    stalled_reader_timeout_s: float = Field(default=30.0, gt=0)
    # The change feed keeps its newest this many changes; older ones are pruned every interval.
    changes_retain: int = Field(default=1_000_000, ge=1)
    changes_prune_interval_s: float = Field(default=60.0, gt=0)
    # Longest query string the read API parses (414 past it): room for the longest documented
    # parameters (a 4,096-character cursor, percent-encoded) and no more.
    max_query_bytes: int = Field(default=65_536, ge=1024)

    @model_validator(mode="after")
    def _admin_token_long_enough(self) -> ProjectorSettings:
        token = self.admin_token
        if token is not None and len(token.get_secret_value().encode()) < ADMIN_TOKEN_MIN_BYTES:
            raise ValueError(f"admin_token must be at least {ADMIN_TOKEN_MIN_BYTES} bytes")
        return self

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite:///"
        return Path(self.store_url[len(prefix) :]) if self.store_url.startswith(prefix) else None
