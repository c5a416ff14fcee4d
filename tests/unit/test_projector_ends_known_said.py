"""The consumer loop says, once, when the end of every assigned partition first becomes known
(ConsumerProgress.when_ends_known: the runtime then lets a merged first catch-up's answer to
/readyz go). Not for one end of two; not again after."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

from aiokafka import TopicPartition

from tests.projector_harness import consumer_loop


class _Fetched:
    """What `_update_lag` asks of aiokafka: two partitions assigned, the ends known so far."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.ends: dict[int, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return {TopicPartition(self.topic, p) for p in (0, 1)}

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends.get(tp.partition)

    def last_stable_offset(self, tp: TopicPartition) -> int | None:
        return self.ends.get(tp.partition)

    def last_poll_timestamp(self, tp: TopicPartition) -> int:
        return int(time.time() * 1000)

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0, 1}


def test_the_ends_known_are_said_once_all_are_known(tmp_path: Path) -> None:
    loop = consumer_loop(tmp_path / "views.db")
    said: list[bool] = []
    loop.when_ends_known = lambda: said.append(loop.ends_known())
    fetched = _Fetched(loop.settings.topic)
    loop._update_lag(cast(Any, fetched))
    assert said == []
    fetched.ends[0] = 5
    loop._update_lag(cast(Any, fetched))
    assert said == []  # one end of two
    fetched.ends[1] = 7
    loop._update_lag(cast(Any, fetched))
    assert said == [True]
    loop._update_lag(cast(Any, fetched))
    assert said == [True]  # once
    assert loop.when_ends_known is None
