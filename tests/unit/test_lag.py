"""The one lag rule that topics describe, the projector and its status page share."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from catalog_contract.lag import PartitionLag, partition_lags, total_lag
from catalog_contract.types import Offsets


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


@given(
    st.dictionaries(st.integers(0, 8), st.integers(0, 10**12)),
    st.dictionaries(st.integers(0, 8), st.integers(0, 10**12)),
)
def test_the_total_is_the_sum_of_the_partitions_lags(ends: Offsets, reached: Offsets) -> None:
    """total_lag adds up the partitions itself (it is on the read API's hot path): the same rule."""
    assert total_lag(ends, reached) == sum(p.lag for p in partition_lags(ends, reached))
