"""The receiver's Prometheus metrics, in a registry of its own (one per app)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class ReceiverMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "receiver_requests", "Postbacks by outcome", ["outcome"], registry=self.registry
        )
        self.latency = Histogram(
            "receiver_request_seconds", "Postback handling time", registry=self.registry
        )
        self.produce_latency = Histogram(
            "receiver_produce_seconds",
            "Time until Kafka acknowledged (acks=all)",
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "receiver_dead_lettered",
            "Rejected postbacks kept in the dead-letter topic",
            registry=self.registry,
        )
        self.dead_letter_repeats = Counter(
            "receiver_dead_letter_repeats",
            "Identical refused requests counted in the repeat window instead of written again",
            registry=self.registry,
        )
        self.dead_letter_tallies_failed = Counter(
            "receiver_dead_letter_tallies_failed",
            "Repeat tallies that could not be written (or were dropped from a full backlog)",
            registry=self.registry,
        )
        self.incomplete = Counter(
            "receiver_incomplete_requests",
            "Requests whose body never fully arrived: client disconnected, or the time-out (408)",
            ["cause"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "receiver_duplicates_dropped",
            "Exact repeats answered from the recent-events window",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "receiver_in_flight", "Postbacks being handled now", registry=self.registry
        )
        # Bound once: a `.labels()` lookup per request is a lock and a dict walk at thousands/s.
        self.accepted = self.requests.labels("accepted")
