"""`catalog-stream dead-letters summary`: counts by status, kind, field and problem, repeat
tallies joined to their records, in bounded memory. No I/O."""

from __future__ import annotations

import tracemalloc
from dataclasses import replace
from datetime import timedelta

from catalog_stream.dead_letter_summary import Summary
from tests.factories import BODY_REFUSAL as BROKEN
from tests.factories import DEAD_LETTER_AT as AT
from tests.factories import PRICE_REFUSAL as PRICE
from tests.factories import repeat_tally as _tally


def test_summary_groups_and_joins_repeat_tallies() -> None:
    summary = Summary()
    second = replace(
        PRICE,
        request_id="r2",
        received_at=AT + timedelta(minutes=1),
        reason="CurrentPrice: not a decimal price: '9,99'",
        problems=(("CurrentPrice", "not a decimal price: '9,99' (expected e.g. '12.99')"),),
    )
    for letter in (PRICE, _tally("r1", 40, 30), second, BROKEN, _tally("gone", 5, 50)):
        summary.add(letter)
    d = summary.finish().as_dict()
    assert (d["records"], d["repeats"], d["first_seen"], d["last_seen"]) == (
        3, 45, "2026-11-28T09:00:00Z", "2026-11-28T09:50:00Z",
    )  # fmt: skip
    assert [(g["status"], g["kind"], g["records"], g["repeats"]) for g in d["by_status"]] == [
        (422, "invalid-postback", 2, 40),
        (422, "repeats of a record outside the range", 0, 5),
        (400, "unreadable-body", 1, 0),
    ]
    assert d["by_field"][0] == {
        "field": "CurrentPrice",
        "problem": "not a decimal price: … (expected e.g. …)",
        "records": 2,
        "repeats": 40,
        "first_seen": "2026-11-28T09:00:00Z",
        "last_seen": "2026-11-28T09:30:00Z",
        "examples": ["r1", "r2"],
    }
    assert d["by_field"][1]["field"] == "-"
    assert d["by_field"][1]["problem"] == (
        "body is not valid JSON: Expecting property name enclosed in double quotes"
    )
    lines = summary.lines()
    assert lines[0] == (
        "3 dead letters, 45 identical repeats not written again; "
        "first 2026-11-28T09:00:00Z, last 2026-11-28T09:50:00Z"
    )
    assert lines[3].split() == [
        "status", "kind", "records", "repeats", "first", "seen", "last", "seen", "examples",
    ]  # fmt: skip
    assert lines[4].split() == [
        "422", "invalid-postback", "2", "40", "2026-11-28T09:00:00Z", "2026-11-28T09:30:00Z",
        "r1", "r2",
    ]  # fmt: skip


def test_an_empty_range_says_so_in_one_line() -> None:
    assert Summary().finish().lines() == [
        "0 dead letters, 0 identical repeats not written again; first -, last -"
    ]


def test_summary_memory_stops_growing_on_a_huge_topic() -> None:
    # Millions of distinct refusals (a burst of a broken template over days) must not grow the
    # summary without bound: neither per record nor per distinct reason. Small bounds here, so
    # that the test is quick; the defaults are the same code with larger numbers.
    summary = Summary(join_limit=2_000, group_limit=100)

    def add(start: int, stop: int) -> None:
        for n in range(start, stop):
            reason = f"body is not valid JSON: Expecting value: line 1 column {n}"
            summary.add(replace(BROKEN, request_id=f"{n:036d}", reason=reason))

    tracemalloc.start()
    try:
        add(0, 5_000)  # past every bound
        before = tracemalloc.get_traced_memory()[0]
        add(5_000, 15_000)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 100_000, f"{grown} bytes more for 10,000 more records"
    d = summary.finish().as_dict()
    assert (d["records"], d["by_status"][0]["records"]) == (15_000, 15_000)
    assert len(d["by_field"]) == 101
    assert d["by_field"][0] | {"examples": []} == {
        "field": "…", "problem": "other problems (more than 100 kinds)", "records": 14_900,
        "repeats": 0, "first_seen": "2026-11-28T09:05:00Z", "last_seen": "2026-11-28T09:05:00Z",
        "examples": [],
    }  # fmt: skip
    assert sum(g["records"] for g in d["by_field"]) == 15_000  # nothing lost from the counts


def test_a_tally_read_before_its_record_is_still_joined_to_it() -> None:
    summary = Summary()
    for letter in (_tally("r1", 7, 30), PRICE):  # another partition was read first
        summary.add(letter)
    d = summary.finish().as_dict()
    assert [(g["kind"], g["records"], g["repeats"]) for g in d["by_status"]] == [
        ("invalid-postback", 1, 7)
    ]
    assert (d["by_field"][0]["field"], d["by_field"][0]["repeats"]) == ("CurrentPrice", 7)
