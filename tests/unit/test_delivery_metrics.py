"""The delivery statistics in Prometheus's text format: names, bounded labels, exact values."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from projector.delivery import DeliveryStats
from projector.delivery_metrics import DeliveryCollector
from tests.unit.test_delivery import NOW_S, feed, postback


def test_series_per_catalog_with_the_rest_under_other() -> None:
    stats = DeliveryStats(max_catalogs=2)
    feed(stats, postback(0, "a", delay_s=20), postback(1, "a", delay_s=700), postback(2, "b"))
    feed(stats, postback(3, "c"), postback(4, "d", delay_s=None))
    registry = CollectorRegistry()
    registry.register(DeliveryCollector(stats))
    value = registry.get_sample_value
    assert value("catalog_postbacks_received_total", {"catalog": "a"}) == 2
    assert value("catalog_postbacks_received_total", {"catalog": "_other"}) == 2
    assert value("catalog_postbacks_received_total", {"catalog": "c"}) is None
    assert value("catalog_last_postback_timestamp_seconds", {"catalog": "b"}) == NOW_S - 60
    bucket = "catalog_delivery_delay_seconds_bucket"
    assert value(bucket, {"catalog": "a", "le": "30"}) == 1
    assert value(bucket, {"catalog": "a", "le": "600"}) == 1
    assert value(bucket, {"catalog": "a", "le": "900"}) == 2
    assert value(bucket, {"catalog": "a", "le": "+Inf"}) == 2
    assert value("catalog_delivery_delay_seconds_count", {"catalog": "_other"}) == 1
    assert value("catalog_delivery_delay_seconds_sum", {"catalog": "a"}) == 720
    text = generate_latest(registry).decode()
    assert len({line.split("{")[0] for line in text.splitlines() if "catalog=" in line}) == 5
