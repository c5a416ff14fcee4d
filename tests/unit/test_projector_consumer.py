"""What the consumer loop tells readers about its progress (no broker: the state is set directly,
as the loop sets it from fetch answers)."""

from __future__ import annotations

from pathlib import Path

from projector.consumer import ConsumerLoop
from projector.generations import SqliteGenerations
from projector.metrics import ProjectorMetrics
from projector.settings import ProjectorSettings


def _projector(tmp_path: Path) -> ConsumerLoop:
    store = SqliteGenerations(tmp_path / "views.db").open_active()
    return ConsumerLoop(ProjectorSettings(), store, ProjectorMetrics())


def test_one_known_end_of_three_partitions_is_not_caught_up(tmp_path: Path) -> None:
    # A rebuild switched generations with 11 of 50 records: the first fetch answer had come
    # from one partition, whose end was reached, and the other two ends were not known yet.
    projector = _projector(tmp_path)
    projector.assigned = frozenset({0, 1, 2})
    projector.end_offsets = {0: 11}
    projector.applied = {0: 11}
    assert not projector.caught_up()
    assert not projector.ready(max_lag=1000)
    projector.end_offsets.update({1: 20, 2: 19})
    assert not projector.caught_up()
    assert projector.ready(max_lag=39)
    assert not projector.ready(max_lag=38)
    projector.applied.update({1: 20, 2: 19})
    assert projector.caught_up()


def test_nothing_assigned_is_neither_caught_up_nor_ready(tmp_path: Path) -> None:
    projector = _projector(tmp_path)
    assert not projector.caught_up()
    assert not projector.ready(max_lag=1000)
