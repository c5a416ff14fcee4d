"""How far a reader of a topic is behind its end, per partition. Pure.

One rule for everyone who reports lag: `catalog-stream topics describe` (a consumer group's
committed offsets), the projector's `/readyz`, `X-View-Lag` and its status page (the offsets
stored with the views). A partition the reader has no position for counts from offset 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog_contract.types import Offsets


@dataclass(frozen=True, slots=True)
class PartitionLag:
    partition: int
    end: int  # the next offset the topic will write (the high watermark)
    reached: int | None  # the next offset the reader expects; None: no position yet

    @property
    def lag(self) -> int:
        return partition_lag(self.end, self.reached)


def partition_lag(end: int, reached: int | None) -> int:
    return max(0, end - (reached or 0))


def partition_lags(ends: Offsets, reached: Offsets) -> list[PartitionLag]:
    """Each partition whose end is known, in partition order."""
    return [PartitionLag(p, end, reached.get(p)) for p, end in sorted(ends.items())]


def total_lag(ends: Offsets, reached: Offsets) -> int:
    # Without a PartitionLag each: the read API asks on every item lookup (which reads on the
    # event loop only while the lag is 0), and making them was 5% of the lookup's CPU.
    return sum(partition_lag(end, reached.get(p)) for p, end in ends.items())
