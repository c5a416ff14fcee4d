"""projector.topic_behind's pure parts: which partitions end below the views' position, and what
/readyz says of them (exact values)."""

from __future__ import annotations

from projector.topic_behind import behind_text, overtaken


def test_only_positioned_partitions_ending_below_the_views_count() -> None:
    ends = {0: 3, 1: 10, 2: 0, 3: 5}
    applied = {0: 1000, 1: 10, 2: 7, 3: 9}
    # 1: at its end (not behind); 2: not positioned from the store yet; 3: behind.
    assert overtaken(ends, applied, {0, 1, 3}) == {0: (1000, 3), 3: (9, 5)}


def test_a_partition_not_applied_from_is_never_behind() -> None:
    assert overtaken({0: 0, 1: 4}, {}, {0, 1}) == {}
    assert overtaken({}, {0: 5}, {0}) == {}


def test_the_text_names_each_partition_its_end_the_views_and_the_remedy() -> None:
    text = behind_text("catalog.products", {3: (9, 5), 0: (12_000, 3)})
    assert text == (
        "topic catalog.products holds fewer records than the views applied from it (partition 0"
        " ends at offset 3, the views hold records up to 12,000; partition 3 ends at offset 5,"
        " the views hold records up to 9): it was deleted and created again, or lost records;"
        " nothing more is applied from those partitions until the views are rebuilt from the"
        " topic (catalog-stream rebuild)"
    )
