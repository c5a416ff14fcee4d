"""A partition Kafka answers "out of range" (the topic recreated under the views) is revoked by a
rebalance while the projector keeps its "behind" finding in the store (a slow write: a database
under load), a real broker.

Attacked (break36): TopicBehind._out_of_range paused the partition after the store's write, an
await, without looking at the assignment again; the partition revoked meanwhile, aiokafka raised
IllegalStateError ("No current assignment for partition") out of the fetch, out of the batch
loop: the live consumer died and the process ended. Failed before: `runtime.failure` was
"consumer stopped: IllegalStateError(...)"."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from projector.sqlite_store import SqliteStore
from tests.factories import change
from tests.projector_harness import projector_in_process
from tests.recreated_topic import quick_metadata_settings, recreated_topic
from tests.support import caught_up, eventually, make_topics, produce_events

pytestmark = pytest.mark.broker


async def test_a_partition_revoked_while_its_finding_is_kept_is_left_alone(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=2)
    written = await produce_events(
        kafka_bootstrap, topics.product, [change(f"old-{n}") for n in range(30)]
    )
    settings = quick_metadata_settings(kafka_bootstrap, topics, tmp_path)
    say_behind = SqliteStore.say_behind
    saying, release = threading.Event(), threading.Event()

    def slow_say_behind(self: SqliteStore, topic: str, partition: int, *args: int) -> None:
        if partition == 0 and not release.is_set():  # (the store's thread, not the loop's)
            saying.set()
            release.wait(60)
        say_behind(self, topic, partition, *args)

    async with projector_in_process(settings) as (runtime, projector):
        await caught_up(projector, written)
        assert runtime.projector.applied.get(0, 0) > 0  # (else partition 0 is not behind)
        monkeypatch.setattr(SqliteStore, "say_behind", slow_say_behind)
        await recreated_topic(kafka_bootstrap, topics.product, partitions=2)
        await eventually(saying.is_set, timeout_s=60)
        # Another member joins while partition 0's finding is being written. Its id sorts first
        # ("a-..." before "catalog-stream-projector-..."): the round robin gives it partition 0.
        other = AIOKafkaConsumer(
            topics.product,
            bootstrap_servers=kafka_bootstrap,
            group_id=settings.group_id,
            client_id="a",
            enable_auto_commit=False,
            auto_offset_reset="latest",
        )
        await other.start()
        try:
            tp = TopicPartition(topics.product, 0)
            await eventually(lambda: other.assignment() == {tp}, timeout_s=60)
            consumer = runtime.projector._consumer
            assert consumer is not None
            await eventually(lambda: tp not in consumer.assignment(), timeout_s=30)
            release.set()
            await eventually(lambda: 0 in runtime.store.behind(topics.product), timeout_s=30)
        finally:
            release.set()
            await other.stop()
        # The other member gone, the projector reads both partitions again, both paused (from
        # the store's table): its loop went on past the revoked partition's finding.
        both = {tp, TopicPartition(topics.product, 1)}
        await eventually(
            lambda: runtime.failure is not None or consumer.assignment() == both, timeout_s=60
        )
        assert runtime.failure is None
        await eventually(lambda: consumer.paused() == both, timeout_s=30)
        assert set(runtime.projector.behind) == {0, 1}
        assert runtime.failure is None
        assert runtime.projector._consumer is consumer
