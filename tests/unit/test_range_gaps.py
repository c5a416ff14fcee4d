"""The words of a replay's refusal of a start that holds no committed record (range_gaps): what
is there, said exactly. (What is there is read from a real broker's batches in
tests/integration/test_replay_not_committed.py.)"""

from __future__ import annotations

import pytest
from aiokafka.record.memory_records import MemoryRecords

from catalog_stream.range_gaps import Gap, _read, gap_text


@pytest.mark.parametrize(
    ("gap", "said"),
    [
        (Gap.REMOVED, "position 0:3 was removed by compaction; the next record there is 0:9"),
        (Gap.ABORTED, "position 0:3 holds a record of an aborted transaction (never committed, "
         "read by no consumer of ours); the next committed record there is 0:9"),
        (Gap.ABORT_MARKER, "position 0:3 is a transaction marker (a transaction's abort), not a "
         "record; the next committed record there is 0:9"),
        (Gap.COMMIT_MARKER, "position 0:3 is a transaction marker (a transaction's commit), not "
         "a record; the next committed record there is 0:9"),
        (Gap.UNKNOWN, "position 0:3 holds no committed record (an aborted transaction's, a "
         "marker, or removed); the next committed record there is 0:9"),
    ],
)  # fmt: skip
def test_each_gap_is_said_as_what_it_is(gap: Gap, said: str) -> None:
    assert gap_text(gap, "0:3", "0:9") == said


def test_no_batch_at_the_offset_is_a_removed_record() -> None:
    assert _read(MemoryRecords(b""), 3) is Gap.REMOVED
