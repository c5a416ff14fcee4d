"""Delivery statistics per catalog, folded from records: exact figures for known inputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from catalog_contract.headers import RESTATES
from projector.delivery import OTHER, DeliveryStats
from projector.delivery_slots import quantile
from projector.records import Incoming, Unreadable
from tests.factories import change, replace

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
NOW_S = NOW.timestamp()


def postback(
    offset: int,
    catalog: str = "42",
    *,
    ago_s: float = 60,
    delay_s: float | None = 30,
    partition: int = 0,
) -> Incoming:
    received = NOW - timedelta(seconds=ago_s)
    source = None if delay_s is None else received - timedelta(seconds=delay_s)
    event = replace(change(f"i{offset}", catalog), received_at=received, source_updated_at=source)
    return Incoming(partition, offset, catalog, event.catalog_item_id, event)


def feed(stats: DeliveryStats, *records: Incoming | Unreadable) -> None:
    stats.observe((r, None) for r in records)


def test_counts_and_quantiles_over_the_last_hour_and_day() -> None:
    stats = DeliveryStats()
    # 100 in the last hour: 90 within 30 s, 8 within 15 min, 2 after 2 hours.
    delays = [30.0] * 90 + [700.0] * 8 + [7000.0] * 2
    feed(stats, *(postback(n, delay_s=d, ago_s=120) for n, d in enumerate(delays)))
    # 5 more three hours ago, each a day late: in the day, not in the hour.
    feed(stats, *(postback(100 + n, delay_s=90_000, ago_s=3 * 3600) for n in range(5)))
    found = stats.delivery("42", NOW_S)
    assert found is not None
    hour, day = found.last_hour, found.last_day
    assert (hour.received, hour.with_delay) == (100, 100)
    assert (hour.p50_s, hour.p95_s, hour.p99_s) == (30, 900, 7200)
    assert (hour.later_than_10m, hour.later_than_1h) == (10, 2)
    assert (day.received, day.later_than_10m, day.later_than_1h) == (105, 15, 7)
    assert day.p99_s == 90_000  # past the last bound: the largest delay seen
    assert found.received_total == 105
    assert found.last_received_s == NOW_S - 120
    assert found.late()
    assert not found.silent()


def test_windows_move_with_the_clock_not_with_events() -> None:
    stats = DeliveryStats()
    feed(stats, *(postback(n, ago_s=300) for n in range(30)))
    two_hours_on = NOW_S + 2 * 3600
    later = stats.delivery("42", two_hours_on)
    assert later is not None
    assert later.last_hour.received == 0
    assert later.last_hour.p99_s is None
    assert later.last_day.received == 30
    assert later.silent()  # 30 in the day (usually sends), none in the hour
    assert stats.delivery("42", NOW_S + 26 * 3600).last_day.received == 0  # type: ignore[union-attr]


def test_per_minute_counts_oldest_first() -> None:
    stats = DeliveryStats()
    feed(stats, postback(0, ago_s=30), postback(1, ago_s=40), postback(2, "7", ago_s=59 * 60 - 1))
    feed(stats, postback(3, ago_s=2 * 3600))  # out of the hour
    counts = stats.per_minute(NOW_S)
    assert len(counts) == 60
    assert counts[58] == 2  # NOW starts a minute: none in it yet
    assert counts[0] == 1
    assert sum(counts) == 3


def test_each_offset_counts_once_and_only_postbacks_count() -> None:
    stats = DeliveryStats()
    first = [postback(n) for n in range(3)]
    feed(stats, *first)
    feed(stats, *first)  # the same batch read again after a failed write
    tombstone = Incoming(0, 3, "42", "i1", None)
    feed(stats, tombstone, Unreadable(0, 4, "bad value"))
    stats.observe([(postback(5), [(RESTATES, b"0:1")])])  # the projector's own write
    found = stats.delivery("42", NOW_S)
    assert found is not None
    assert found.received_total == 3
    # Another partition has offsets of its own.
    feed(stats, postback(0, partition=1))
    assert stats.delivery("42", NOW_S).received_total == 4  # type: ignore[union-attr]


def test_no_source_time_counts_the_postback_but_no_delay() -> None:
    stats = DeliveryStats()
    feed(stats, postback(0, delay_s=None), postback(1, delay_s=-50))  # source clock ahead
    found = stats.delivery("42", NOW_S)
    assert found is not None
    assert (found.last_hour.received, found.last_hour.with_delay) == (2, 1)
    assert found.last_hour.p99_s == 1  # clamped to 0, in the first bucket


def test_catalogs_over_the_cap_are_added_up_under_other() -> None:
    stats = DeliveryStats(max_catalogs=3)
    stats.known(["a", "b"])
    feed(stats, postback(0, "c"), postback(1, "d"), postback(2, "e"), postback(3, "a"))
    assert stats.catalog_ids() == [OTHER, "a", "b", "c"]
    other = stats.delivery(OTHER, NOW_S)
    assert other is not None
    assert other.received_total == 2
    untouched = stats.delivery("b", NOW_S)
    assert untouched is not None
    assert untouched.received_total == 0
    assert untouched.last_hour.p50_s is None
    totals = {t.catalog_id: t for t in stats.totals()}
    assert totals["c"].received == 1
    assert sum(totals["c"].buckets) == 1
    assert totals["c"].delay_sum == 30


def test_quantile_is_the_upper_bound_of_the_rank_bucket() -> None:
    buckets = [0] * 15
    buckets[3], buckets[7] = 1, 1  # one within 30 s, one within 600 s
    assert quantile(buckets, 0.5, 0) == 30
    assert quantile(buckets, 0.51, 0) == 600
    assert quantile([0] * 15, 0.99, 0) is None


def test_a_late_arrival_older_than_the_minute_ring_still_counts_in_the_day() -> None:
    stats = DeliveryStats()
    # The same minute slot (an hour apart): the newer holds it, the older goes to its hour only.
    feed(stats, postback(0, ago_s=60), postback(1, ago_s=3660))
    found = stats.delivery("42", NOW_S)
    assert found is not None
    assert (found.last_hour.received, found.last_day.received, found.received_total) == (1, 2, 2)
