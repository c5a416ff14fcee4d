"""The receiver's Prometheus metrics, in a registry of its own (one per app)."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import metrics as prometheus_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

# The `le` label text prometheus_client writes for a bound (untyped there).
_bound_label: Callable[[float], str] = floatToGoString


class LoopHistogram:
    """A histogram observed only from the event loop's thread: plain counts, where
    prometheus_client's Histogram takes a lock for its sum and another for the bucket, and walks
    the buckets in Python, at every observation (two a postback). Scraped exactly as that
    Histogram of the same name, buckets and help (tests/unit/test_receiver_metrics.py)."""

    def __init__(
        self,
        name: str,
        documentation: str,
        registry: CollectorRegistry,
        buckets: Iterable[float] = Histogram.DEFAULT_BUCKETS,
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._bounds = [float(bound) for bound in buckets]
        if self._bounds[-1] != float("inf"):
            self._bounds.append(float("inf"))
        self._labels = [{"le": _bound_label(bound)} for bound in self._bounds]
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0
        self._created = time.time()
        registry.register(self)

    def observe(self, amount: float) -> None:
        self._sum += amount
        index = bisect_left(self._bounds, amount)
        # (NaN is in no bucket, as in prometheus_client: it is not <= any bound)
        if index < len(self._bounds) and amount <= self._bounds[index]:
            self._counts[index] += 1

    def collect(self) -> Iterable[Metric]:
        family = Metric(self._name, self._documentation, "histogram")
        total = 0.0
        for labels, count in zip(self._labels, self._counts, strict=True):
            total += count
            family.add_sample(self._name + "_bucket", dict(labels), total)
        family.add_sample(self._name + "_count", {}, total)
        if self._bounds[0] >= 0:
            family.add_sample(self._name + "_sum", {}, self._sum)
        if getattr(prometheus_metrics, "_use_created", True):
            family.add_sample(self._name + "_created", {}, self._created)
        return [family]


@dataclass
class ReceiverMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "receiver_requests", "Postbacks by outcome", ["outcome"], registry=self.registry
        )
        self.latency = LoopHistogram(
            "receiver_request_seconds", "Postback handling time", self.registry
        )
        self.produce_latency = LoopHistogram(
            "receiver_produce_seconds", "Time until Kafka acknowledged (acks=all)", self.registry
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
            "Exact repeats answered without a second write (the recent-events window, or the "
            "same postback's write in flight)",
            registry=self.registry,
        )
        # Counted in a plain int by the event loop (a Gauge's inc and dec take a lock each);
        # the gauge reads it when scraped.
        self.handling = 0
        self.in_flight = Gauge(
            "receiver_in_flight", "Postbacks being handled now", registry=self.registry
        )
        self.in_flight.set_function(lambda: self.handling)
        # Bound once: a `.labels()` lookup per request is a lock and a dict walk at thousands/s.
        self.accepted = self.requests.labels("accepted")
