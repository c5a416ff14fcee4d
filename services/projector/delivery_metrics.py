"""The delivery statistics as Prometheus metrics, read from `DeliveryStats` at scrape time (no
work per event). One series set per tracked catalog: at most `delivery_max_catalogs` catalogs,
plus `_other` for the rest, so the label set is bounded by configuration, not by traffic.

Counters and the histogram count since the projector started: Prometheus's `rate()` and
`increase()` carry them across restarts, and several instances (each with its partitions) add
up with `sum by (catalog)`.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from projector.delivery import DeliveryStats
from projector.delivery_slots import BOUNDS_S


class DeliveryCollector(Collector):
    def __init__(self, stats: DeliveryStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        received = CounterMetricFamily(
            "catalog_postbacks_received",
            "Postbacks received per catalog (from the topic; restatements excluded)",
            labels=["catalog"],
        )
        last = GaugeMetricFamily(
            "catalog_last_postback_timestamp_seconds",
            "Receive time of the newest postback per catalog (Unix seconds)",
            labels=["catalog"],
        )
        delay = HistogramMetricFamily(
            "catalog_delivery_delay_seconds",
            "Receive time minus the source's DateLastUpdated, per catalog",
            labels=["catalog"],
        )
        for totals in self.stats.totals():
            labels = [totals.catalog_id]
            received.add_metric(labels, totals.received)
            if totals.last_received_s is not None:
                last.add_metric(labels, totals.last_received_s)
            cumulative, running = [], 0
            for bound, count in zip((*BOUNDS_S, float("inf")), totals.buckets, strict=True):
                running += count
                cumulative.append(("+Inf" if bound == float("inf") else f"{bound:g}", running))
            delay.add_metric(labels, cumulative, totals.delay_sum)
        yield received
        yield last
        yield delay
