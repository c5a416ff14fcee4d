"""The one lag rule that topics describe, the projector and its status page share."""

from __future__ import annotations

from catalog_contract.lag import PartitionLag, partition_lags, total_lag


def test_lag_per_partition_counts_from_zero_without_a_position() -> None:
    ends = {2: 10, 0: 7, 1: 0}
    reached = {0: 5, 2: 12}  # 2: ahead of a stale end (never negative)
    assert partition_lags(ends, reached) == [
        PartitionLag(0, 7, 5),
        PartitionLag(1, 0, None),
        PartitionLag(2, 10, 12),
    ]
    assert [p.lag for p in partition_lags(ends, reached)] == [2, 0, 0]
    assert total_lag(ends, reached) == 2
    assert total_lag({0: 4, 1: 3}, {}) == 7
