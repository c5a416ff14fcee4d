"""The projector's Prometheus metrics, in a registry of its own (one per app)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class ProjectorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter(
            "projector_events", "Records consumed, by verdict", ["verdict"], registry=r
        )
        self.restatements = Counter(
            "projector_restatements",
            "Records written so that compaction keeps each item's true state",
            ["kind"],
            registry=r,
        )
        self.restatements_failed = Counter(
            "projector_restatements_failed",
            "Restatements that could not be written (logged; the views are unaffected)",
            registry=r,
        )
        self.restatements_owed = Gauge(
            "projector_restatements_owed",
            "Restatements whose write failed, kept in the view store and written again",
            registry=r,
        )
        self.dead_lettered = Counter(
            "projector_dead_lettered",
            "Records the views could not apply, kept in the projector's dead-letter topic",
            registry=r,
        )
        self.batch_seconds = Histogram(
            "projector_batch_seconds", "Time to apply one batch", registry=r
        )
        self.lag = Gauge(
            "projector_lag", "Records behind the end of each partition", ["partition"], registry=r
        )
        # read_committed reads nothing past the last stable offset: another producer's open
        # transaction holds the views there, its records and all after them, until it ends.
        self.past_stable = Gauge(
            "projector_records_past_stable_offset",
            "Records past each partition's last stable offset (an open transaction holds them)",
            ["partition"],
            registry=r,
        )
        # 1 where the topic holds fewer records than the views applied (topic_behind.py).
        self.topic_behind = Gauge(
            "projector_topic_behind_views",
            "1 where a partition ends below the views' position there (recreated or truncated)",
            ["partition"],
            registry=r,
        )
        self.rebuild_applied = Gauge(
            "projector_rebuild_records_applied",
            "Records the running rebuild has applied",
            registry=r,
        )
        self.rebuild_target = Gauge(
            "projector_rebuild_records_target",
            "End offsets the running rebuild is catching up to",
            registry=r,
        )
