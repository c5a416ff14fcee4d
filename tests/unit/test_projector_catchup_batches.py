"""How big the consumer loop's next batch may be: bigger while the live views catch up, as
before otherwise (consumer_ahead.batch_records, ConsumerLoop._batch_records)."""

from __future__ import annotations

from pathlib import Path

from projector.consumer import ConsumerLoop
from projector.consumer_ahead import batch_records
from projector.settings import ProjectorSettings
from tests.projector_harness import consumer_loop


def test_a_batch_is_factor_times_bigger_only_at_a_lag_of_that_many_records() -> None:
    assert batch_records(1000, 0, 4) == 1000
    assert batch_records(1000, 3999, 4) == 1000
    assert batch_records(1000, 4000, 4) == 4000
    assert batch_records(1000, 900_000, 4) == 4000
    assert batch_records(20, 80, 4) == 80
    assert batch_records(20, 79, 4) == 20


def test_a_factor_of_one_never_changes_the_batch() -> None:
    assert batch_records(1000, 900_000, 1) == 1000
    assert batch_records(7, 6, 1) == 7


def test_the_live_loop_takes_four_times_bigger_batches_while_far_behind(tmp_path: Path) -> None:
    projector = consumer_loop(tmp_path / "views.db")
    assert projector.settings.batch_max_records == 1000
    assert projector._batch_records() == 1000  # no end known: no lag
    projector.assigned = frozenset({0, 1})
    projector.end_offsets = {0: 3000, 1: 2000}
    projector.applied = {0: 1000}
    assert projector.lag() == 4000
    assert projector._batch_records() == 4000
    projector.applied = {0: 1001}
    assert projector._batch_records() == 1000


def test_a_rebuilds_load_keeps_its_batches(tmp_path: Path) -> None:
    live = consumer_loop(tmp_path / "views.db")
    builder = ConsumerLoop(
        ProjectorSettings(), live.store, live.metrics, feed_from={0: 1 << 62, 1: 1 << 62}
    )
    builder.assigned = frozenset({0, 1})
    builder.end_offsets = {0: 90_000, 1: 90_000}
    assert builder.lag() == 180_000
    assert builder._batch_records() == 1000


def test_a_catchup_factor_of_one_keeps_the_live_loops_batches(tmp_path: Path) -> None:
    projector = consumer_loop(tmp_path / "views.db")
    projector.catchup_factor = 1
    projector.assigned = frozenset({0})
    projector.end_offsets = {0: 900_000}
    assert projector.lag() == 900_000
    assert projector._batch_records() == 1000
    assert ConsumerLoop.catchup_factor == 4
