"""The receiver's timings are kept in plain counts (LoopHistogram) and its in-flight gauge in a
plain int: scraped, they read exactly as prometheus_client's own Histogram and Gauge did."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from receiver.metrics import LoopHistogram, ReceiverMetrics
from tests.receiver_harness import call, recording_app

_BOUNDS = [float(b) for b in Histogram.DEFAULT_BUCKETS]
_AMOUNTS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [*_BOUNDS, *(math.nextafter(b, -math.inf) for b in _BOUNDS[:-1]), 0.0, -0.0]
)


def _without_created(text: bytes) -> list[str]:
    """The exposition with each _created value blanked (a wall-clock time of creation)."""
    return [
        line.rsplit(" ", 1)[0] if "_created " in line else line
        for line in text.decode().splitlines()
    ]


@given(st.lists(_AMOUNTS, max_size=40))
@settings(max_examples=300)
def test_a_loop_histogram_scrapes_exactly_as_prometheus_clients_histogram(
    amounts: list[float],
) -> None:
    old, new = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("receiver_request_seconds", "Postback handling time", registry=old)
    ours = LoopHistogram("receiver_request_seconds", "Postback handling time", new)
    for amount in amounts:
        reference.observe(amount)
        ours.observe(amount)
    assert _without_created(generate_latest(new)) == _without_created(generate_latest(old))


def test_custom_buckets_and_an_explicit_infinity_are_kept() -> None:
    old, new = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("t_seconds", "t", buckets=(0.5, 1.0, math.inf), registry=old)
    ours = LoopHistogram("t_seconds", "t", new, buckets=(0.5, 1.0, math.inf))
    for amount in (0.1, 0.5, 0.7, 1.0, 3.0):
        reference.observe(amount)
        ours.observe(amount)
    assert _without_created(generate_latest(new)) == _without_created(generate_latest(old))
    assert new.get_sample_value("t_seconds_bucket", {"le": "0.5"}) == 2
    assert new.get_sample_value("t_seconds_count") == 5


def test_the_in_flight_gauge_reads_the_count_when_scraped() -> None:
    metrics = ReceiverMetrics()
    metrics.handling += 3
    metrics.handling -= 1
    assert metrics.registry.get_sample_value("receiver_in_flight") == 2
    text = generate_latest(metrics.registry).decode()
    assert "# TYPE receiver_in_flight gauge\nreceiver_in_flight 2.0\n" in text


async def test_a_postback_is_timed_and_counted_out_of_flight() -> None:
    app, _ = recording_app()
    body = b'{"CatalogId": "1", "CatalogItemId": "a", "CurrentPrice": "2.50"}'
    answer = await call(app, "POST", body=body, content_type="application/json")
    assert answer.status == 200
    scraped = await call(app, "GET", path="/metrics")
    lines = scraped.body.decode().splitlines()
    assert "receiver_request_seconds_count 1.0" in lines
    assert "receiver_produce_seconds_count 1.0" in lines
    assert 'receiver_produce_seconds_bucket{le="+Inf"} 1.0' in lines
    assert "receiver_in_flight 0.0" in lines
