"""A first catch-up's parts each count the postbacks they read in delivery windows of their own;
the projector adds them up (`DeliveryStats.add_windows`) instead of reading the topic again. Added
up, they are exactly the windows of one process that counted every postback, in any order."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from projector.delivery import DeliveryStats
from projector.part_counts import delivery_line, read_windows
from tests.unit.test_delivery import NOW_S, feed, postback


def test_two_parts_windows_add_up_to_one_process_s() -> None:
    first, second, one = DeliveryStats(), DeliveryStats(), DeliveryStats()
    records = [
        postback(0, ago_s=30, delay_s=5),
        postback(1, ago_s=90, delay_s=700),
        postback(2, "7", ago_s=4000, delay_s=None),  # two hours back in the hour ring's place
        postback(3, ago_s=4000, delay_s=7000),  # more than an hour ago: in the day only
        postback(4, ago_s=40, delay_s=20),
    ]
    feed(first, *records[:2], records[4])
    feed(second, *records[2:4])
    feed(one, *records)
    merged = DeliveryStats()
    for part in (first, second):
        merged.add_windows(read_windows(b"log\n" + delivery_line(part)))
    found = merged.delivery("42", NOW_S)
    assert found is not None
    assert (found.last_hour.received, found.last_hour.with_delay) == (3, 3)
    assert (found.last_hour.p50_s, found.last_hour.p99_s) == (30, 900)
    assert (found.last_day.received, found.last_day.later_than_1h) == (4, 1)
    assert found.received_total == 0  # the windows only: the counters come with add_totals
    assert merged.deliveries(NOW_S)[1].last_day.received == 1  # catalog "7"
    assert [d.last_hour for d in merged.deliveries(NOW_S)] == [
        d.last_hour for d in one.deliveries(NOW_S)
    ]
    assert merged.per_minute(NOW_S) == one.per_minute(NOW_S)


def test_a_slot_newer_than_the_ring_s_replaces_it_and_an_older_one_is_dropped() -> None:
    """The same place of the minute ring, an hour apart: the newest minute wins there, whichever
    part (or which order) brought it; in the hour ring both count."""
    old, new = DeliveryStats(), DeliveryStats()
    feed(old, postback(0, ago_s=60 * 61, delay_s=1))
    feed(new, postback(1, ago_s=60, delay_s=1))
    for order in ((old, new), (new, old)):
        merged = DeliveryStats()
        for part in order:
            merged.add_windows(part.windows())
        assert merged.per_minute(NOW_S)[-2:] == [1, 0]
        found = merged.delivery("42", NOW_S)
        assert found is not None
        assert (found.last_hour.received, found.last_day.received) == (1, 2)


def test_windows_that_do_not_read_are_left_out() -> None:
    assert read_windows(b"") == []
    assert read_windows(b'{"delivery": [], "windows": [["42", [[1, 2]], []]]}\n') == []
    assert read_windows(b'{"delivery": [], "windows": 5}\n') == []
    assert read_windows(b'{"delivery": []}\n') == []  # a worker of before: no windows
    assert read_windows(b'{"delivery": [}\n') == []


_postbacks = st.lists(
    st.tuples(
        st.sampled_from(["42", "7", "x"]),
        st.floats(min_value=0, max_value=3 * 86_400, allow_nan=False),  # received this long ago
        st.one_of(st.none(), st.floats(min_value=-100, max_value=200_000, allow_nan=False)),
        st.integers(min_value=0, max_value=3),  # the part that reads it
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(_postbacks)
def test_parts_add_up_to_one_process_whatever_reads_what(
    found: list[tuple[str, float, float | None, int]],
) -> None:
    one, parts = DeliveryStats(), [DeliveryStats() for _ in range(4)]
    for offset, (catalog, ago_s, delay_s, reader) in enumerate(found):
        record = postback(offset, catalog, ago_s=ago_s, delay_s=delay_s)
        feed(one, record)
        feed(parts[reader], record)
    merged = DeliveryStats()
    for part in parts:
        merged.add_windows(read_windows(delivery_line(part)))
    windows = [(d.catalog_id, d.last_hour, d.last_day) for d in merged.deliveries(NOW_S)]
    assert windows == [(d.catalog_id, d.last_hour, d.last_day) for d in one.deliveries(NOW_S)]
    assert merged.per_minute(NOW_S) == one.per_minute(NOW_S)
