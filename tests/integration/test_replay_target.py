"""`replay --to topic` into a target it cannot write: refused at once, in one line, before a
record is read or written. Found by the stop-24 attack: a target topic that does not exist
ended the replay after ~41 s (the producer's metadata wait) with aiokafka's
UnknownTopicOrPartitionError traceback, and a target with fewer partitions than the source
with an AssertionError traceback after copying part of the range."""

from __future__ import annotations

import re
import time

import pytest

from catalog_contract.topics import TopicSpec
from catalog_stream.topic_admin import ensure_all
from tests.factories import change
from tests.support import Topics, make_topics, produce_events, read_topic, run_cli

pytestmark = pytest.mark.broker


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err  # no traceback, no library log lines
    assert lines[0].startswith("error: "), err
    return lines[0]


async def test_a_target_topic_that_does_not_exist_is_refused_at_once(
    kafka_bootstrap: str, topics: Topics
) -> None:
    await produce_events(kafka_bootstrap, topics.product, [change(f"t{n}") for n in range(5)])
    started = time.monotonic()
    code, out, err = await run_cli(
        "replay", "--bootstrap-servers", kafka_bootstrap, "--topic", topics.product,
        "--to", "topic", "--target-topic", f"{topics.product}.no-such-copy",
    )  # fmt: skip
    took = time.monotonic() - started
    line = _one_line_error(err)
    assert f"--target-topic '{topics.product}.no-such-copy' does not exist" in line
    assert (code, out) == (1, "")  # 1, as for a source topic that does not exist
    # The old code waited out the producer's 40 s metadata wait; a refusal needs no wait.
    assert took < 20, took


async def test_a_target_topic_with_fewer_partitions_is_refused_before_anything_is_copied(
    kafka_bootstrap: str, topics: Topics
) -> None:
    await produce_events(kafka_bootstrap, topics.product, [change(f"p{n}") for n in range(30)])
    small = await make_topics(kafka_bootstrap, partitions=1)
    code, out, err = await run_cli(
        "replay", "--bootstrap-servers", kafka_bootstrap, "--topic", topics.product,
        "--to", "topic", "--target-topic", small.product,
    )  # fmt: skip
    line = _one_line_error(err)
    assert f"--target-topic '{small.product}' has 1 partition(s)" in line
    assert "needs 3" in line
    assert (code, out) == (1, "")
    assert await read_topic(kafka_bootstrap, small.product, timeout_s=3) == []


async def test_records_the_target_refuses_fail_the_replay_instead_of_being_counted_as_copied(
    kafka_bootstrap: str, topics: Topics
) -> None:
    """Found while fixing the two above: the producer's delivery results were never looked at,
    so records the broker refused (here: larger than the target's max.message.bytes) were
    reported as replayed, exit 0 ("events 12"), with only asyncio's "Future exception was
    never retrieved" on stderr, and the target stayed empty."""
    await produce_events(kafka_bootstrap, topics.product, [change(f"r{n}") for n in range(12)])
    small = f"{topics.product}.small-records"
    await ensure_all(kafka_bootstrap, [TopicSpec(small, 3, 1, {"max.message.bytes": "100"})])
    code, out, err = await run_cli(
        "replay", "--bootstrap-servers", kafka_bootstrap, "--topic", topics.product,
        "--to", "topic", "--target-topic", small,
    )  # fmt: skip
    line = _one_line_error(err)
    # All refused: as many as were sent before the first refusal came back, at most 12.
    refused = re.search(r"error: ([0-9]+) of ([0-9]+) record\(s\) were not written to", line)
    assert refused is not None, line
    assert refused.group(1) == refused.group(2), line
    assert 0 < int(refused.group(1)) <= 12, line
    assert f"--target-topic '{small}'" in line
    assert "MessageSizeTooLargeError" in line
    assert (code, out) == (1, "")  # running it again will not help
    assert await read_topic(kafka_bootstrap, small, timeout_s=3) == []
