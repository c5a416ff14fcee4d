"""attack33 on `catalog-stream replay` bounds that leave nothing to read (catalog_stream.ranges,
replay_bounds). Real broker, the command as a user runs it.

Failed before: `--from 0:999` on a partition ending at 3 exited 0 having replayed nothing,
saying nothing (the start was past the end, so the partition was simply not read); so did a
`--from` time still to come, and an `--until` before the `--from` (times, positions, or a mix of
them). The data team took an empty file for an empty range. Now: a start past a partition's end
exits 1 naming the partition, the offset asked and the end; a `--from` in the future and an
`--until` before the `--from` exit 2 (the command line's own values), or 1 when only the
topic's offsets show the `--until` is before the `--from`.

Held: a start exactly at the end (where the next record will be) reads nothing, exit 0; an
`--until` past the end reads to the end (records not written yet are not waited for)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import change
from tests.support import make_topics, produce_events, run_cli

pytestmark = pytest.mark.broker


async def _replay(bootstrap: str, topic: str, *bounds: str) -> tuple[int, list[int], str]:
    code, out, err = await run_cli(
        "replay", "--bootstrap-servers", bootstrap, "--topic", topic, *bounds
    )
    assert "Traceback" not in err, err
    return code, [json.loads(line)["offset"] for line in out.splitlines()], err


async def test_bounds_that_leave_nothing_to_read_say_so(kafka_bootstrap: str) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    await produce_events(kafka_bootstrap, topics.product, [change(f"i{n}") for n in range(3)])
    topic = topics.product  # partition 0 holds offsets 0..2, its end is 3

    code, offsets, err = await _replay(kafka_bootstrap, topic, "--from", "0:999")
    assert (code, offsets) == (1, []), err
    assert "position 0:999 is past the end of partition 0, which ends at 3" in err, err

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, offsets, err = await _replay(kafka_bootstrap, topic, "--from", tomorrow)
    assert (code, offsets) == (2, []), err
    assert f"--from {tomorrow} is in the future" in err, err

    bounds = ("--from", "2026-11-28T00:00:00Z", "--until", "2026-11-27T00:00:00Z")
    code, offsets, err = await _replay(kafka_bootstrap, topic, *bounds)
    assert (code, offsets) == (2, []), err
    assert "--until 2026-11-27T00:00:00Z is before --from 2026-11-28T00:00:00Z" in err, err

    code, offsets, err = await _replay(kafka_bootstrap, topic, "--from", "0:2", "--until", "0:1")
    assert (code, offsets) == (2, []), err
    assert "--until 0:1 is before --from 0:2 on partition 0" in err, err

    # A time before every record: the --until is offset 0 of partition 0, before 0:2.
    bounds = ("--from", "0:2", "--until", "2000-01-01T00:00:00Z")
    code, offsets, err = await _replay(kafka_bootstrap, topic, *bounds)
    assert (code, offsets) == (1, []), err
    assert "--until is before --from on partition 0: offset 0, before 2" in err, err

    assert (await _replay(kafka_bootstrap, topic, "--from", "0:3"))[:2] == (0, [])
    assert (await _replay(kafka_bootstrap, topic, "--from", "0:1", "--until", "0:99"))[:2] == (
        0,
        [1, 2],
    )
    assert (await _replay(kafka_bootstrap, topic, "--from", "0:1", "--until", "0:1"))[:2] == (0, [])
