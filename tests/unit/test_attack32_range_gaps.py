"""The replay's refusal of a start holding no committed record when no committed record follows
it before the range's end (range_gaps.gap_text with ends_at): what is there, and that nothing
follows, said exactly."""

from __future__ import annotations

import pytest

from catalog_stream.range_gaps import Gap, gap_text


@pytest.mark.parametrize(
    ("gap", "said"),
    [
        (Gap.REMOVED, "position 0:3 was removed by compaction; no record follows it before the "
         "range's end, 0:6"),
        (Gap.ABORTED, "position 0:3 holds a record of an aborted transaction (never committed, "
         "read by no consumer of ours); no committed record follows it before the range's end, "
         "0:6"),
        (Gap.ABORT_MARKER, "position 0:3 is a transaction marker (a transaction's abort), not a "
         "record; no committed record follows it before the range's end, 0:6"),
        (Gap.COMMIT_MARKER, "position 0:3 is a transaction marker (a transaction's commit), not "
         "a record; no committed record follows it before the range's end, 0:6"),
        (Gap.UNKNOWN, "position 0:3 holds no committed record (an aborted transaction's, a "
         "marker, or removed); no committed record follows it before the range's end, 0:6"),
    ],
)  # fmt: skip
def test_a_start_no_committed_record_follows(gap: Gap, said: str) -> None:
    assert gap_text(gap, "0:3", "0:6", ends_at=True) == said
