"""tests.support.read_topic, which tests use to check what is on a topic, reads committed
records only, as every consumer of ours does (KafkaConnection.consumer_options): a record of an
aborted transaction is on no view and in no replay, so a test must not count it as written.
Fails on the code before (read_uncommitted: the aborted records were read too)."""

from __future__ import annotations

import pytest

from tests.factories import change
from tests.integration.test_aborted_transactions import transaction
from tests.support import make_topics, produce_events, read_topic

pytestmark = pytest.mark.broker


async def test_read_topic_reads_committed_records_only(kafka_bootstrap: str) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    await transaction(kafka_bootstrap, topics.product, [change("aborted-0")], commit=False)
    await transaction(kafka_bootstrap, topics.product, [change("committed")], commit=True)
    await produce_events(kafka_bootstrap, topics.product, [change("plain")])
    # Last on the partition: an aborted transaction and its marker (the read still ends).
    await transaction(kafka_bootstrap, topics.product, [change("aborted-1")], commit=False)
    records = await read_topic(kafka_bootstrap, topics.product)
    # offsets: 0 aborted, 1 its marker, 2 committed, 3 its marker, 4 plain, 5 aborted, 6 marker
    assert [(r.key, r.offset) for r in records] == [(b"42:committed", 2), (b"42:plain", 4)]
