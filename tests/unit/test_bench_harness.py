"""Pure parts of the benchmark harness: the freshness percentiles and the Kafka Streams peer's
report (no broker, no JVM)."""

from __future__ import annotations

import pytest
from bench.freshness_bench import Freshness
from bench.kstreams_peer import PeerError, figures


def test_freshness_percentiles_are_nearest_rank() -> None:
    result = Freshness(1_000, delays_ms=[float(x) for x in range(200, 0, -1)])
    assert result.percentile(0.50) == 100.0
    assert result.percentile(0.99) == 198.0
    assert result.percentile(1.0) == 200.0
    figures_ = result.figures()
    assert figures_["freshness_1000_p99_ms"] == 198.0
    assert figures_["freshness_1000_count"] == 200


def test_freshness_with_nothing_visible_fails_the_run_instead_of_reporting_nothing() -> None:
    result = Freshness(100)
    result.errors["read API answered 504"] = 500
    with pytest.raises(RuntimeError, match="504"):
        result.figures()


REPORT = {
    "records": 10_000,
    "keys": 2_000,
    "expected_records": 10_000,
    "jvm_started_ms": 1_000_500,
    "first_record_ms": 1_004_000,
    "caught_up_ms": 1_009_000,
    "close_s": 1.0,
    "peak_rss_mb": 300.0,
}


def test_the_peer_is_timed_from_its_start_to_its_last_record_plus_the_close() -> None:
    assert figures(REPORT, 1_000.0, 10_000, 2_000) == {
        "seconds": 10.0,
        "rate": 1_000.0,
        "startup_s": 4.0,
        "close_s": 1.0,
        "peak_rss_mb": 300.0,
    }


@pytest.mark.parametrize(
    "change",
    [{"records": 9_999}, {"expected_records": 9_000}, {"keys": 1_999}],
)
def test_a_peer_that_did_not_read_everything_into_every_key_is_refused(
    change: dict[str, int],
) -> None:
    with pytest.raises(PeerError):
        figures({**REPORT, **change}, 1_000.0, 10_000, 2_000)
