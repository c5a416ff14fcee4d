"""projector.topic_behind's pure parts: which partitions end below the views' position, and what
/readyz says of them (exact values)."""

from __future__ import annotations

from projector.rebuild_recreated import recreated_partitions
from projector.topic_behind import behind_text, out_of_range, overtaken


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


def test_a_partition_refilled_past_the_views_since_it_ended_below_them_says_so() -> None:
    text = behind_text("t", {1: (20, 30)})
    assert "(partition 1 ended below offset 20, up to which the views hold its records, and was" \
        " filled to 30 since)" in text  # fmt: skip


def test_out_of_range_where_the_views_hold_records_is_behind_whatever_the_log_holds_now() -> None:
    # Kafka said offset 20 out of range: the log ended below it then (recreated); now it ends
    # at 1 (still behind), or at 30 (refilled since: attack33), or exactly at 20.
    assert out_of_range(20, 0, 1, views_at=20) == "behind"
    assert out_of_range(20, 0, 30, views_at=20) == "behind"
    assert out_of_range(20, 0, 20, views_at=20) == "behind"
    assert out_of_range(25, 0, 1, views_at=20) == "behind"  # (fetched ahead of the views)


def test_out_of_range_below_the_start_at_the_views_position_is_records_removed() -> None:
    assert out_of_range(3, 6, 8, views_at=3) == "removed"
    assert out_of_range(0, 6, 8, views_at=0) == "removed"


def test_out_of_range_before_the_stores_position_is_read_is_from_the_start_or_again() -> None:
    # views_at None: the fetch came from the group's offset (a mirror); or views holding none.
    assert out_of_range(3, 6, 8, views_at=None) == "from the start"
    assert out_of_range(20, 0, 1, views_at=None) == "from the start"
    assert out_of_range(20, 0, 1, views_at=0) == "from the start"
    assert out_of_range(5, 0, 30, views_at=None) == "in range"
    assert out_of_range(5, 5, 5, views_at=0) == "in range"


async def test_a_rebuild_takes_partitions_the_topic_no_longer_has_as_recreated() -> None:
    # (attack33) The topic recreated with 1 partition of 2: partition 1's old position, which
    # the builder otherwise waited for until the rebuild failed, is dropped like partition 0's.
    async def one_partition() -> dict[int, int]:
        return {0: 2}

    positions = {0: 9, 1: 7}
    assert await recreated_partitions(one_partition, positions, confirm_s=0) == {0, 1}


async def test_a_rebuild_finds_nothing_recreated_while_the_topic_is_not_there() -> None:
    async def no_partition() -> dict[int, int]:
        return {}

    assert await recreated_partitions(no_partition, {0: 9, 1: 7}, confirm_s=0) == frozenset()
