"""The product topic deleted and created again, then filled past the views' position within
BEHIND_CONFIRM_S of the projector seeing its end below them (a real broker).

Attacked (attack33): the 10 s confirmation (meant to ride out a failover's trailing high
watermark) lets the consumer go on meanwhile: it skipped the new topic's records below the old
position as duplicates, then applied those past it, and once the end passed the old position
the partition was no longer taken for behind. Failed: /readyz said ready for good, and the
records below the old position never reached the views (postbacks acknowledged with a 200,
lost without a word): the very loss topic_behind.py set out to say."""

from __future__ import annotations

from pathlib import Path

import pytest

from projector.topic_behind import BEHIND_CONFIRM_S
from tests.factories import change
from tests.projector_harness import projector_in_process
from tests.recreated_topic import quick_metadata_settings, recreated_topic
from tests.support import (
    caught_up,
    eventually,
    make_topics,
    produce_events,
)

pytestmark = pytest.mark.broker


async def test_a_topic_refilled_past_the_views_during_the_confirmation_is_said(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topics = await make_topics(kafka_bootstrap, partitions=1)
    written = await produce_events(
        kafka_bootstrap, topics.product, [change(f"old-{n}") for n in range(20)]
    )
    settings = quick_metadata_settings(kafka_bootstrap, topics, tmp_path)
    async with projector_in_process(settings) as (runtime, projector):
        await caught_up(projector, written)
        await recreated_topic(kafka_bootstrap, topics.product)
        first = await produce_events(kafka_bootstrap, topics.product, [change("new-0")])

        async def seen_below() -> bool:  # the live consumer has the new topic's end
            # (or, fetching at the views' position, heard from Kafka that the log ends below it)
            return runtime.projector.end_offsets.get(0) == first or 0 in runtime.projector.behind

        await eventually(seen_below, timeout_s=30, every_s=0.1)
        # Within the confirmation: the topic grows past the views' position (20).
        await produce_events(
            kafka_bootstrap, topics.product, [change(f"new-{n}") for n in range(1, 30)]
        )

        async def said() -> bool:
            answer = await projector.get("/readyz")
            return answer.status_code == 503 and "holds fewer records" in answer.text

        try:
            await eventually(said, timeout_s=BEHIND_CONFIRM_S + 20, every_s=0.5)
        except AssertionError:
            item = await projector.get("/v1/catalogs/42/items/new-0")
            ready = (await projector.get("/readyz")).status_code
            raise AssertionError(
                f"never said: /readyz {ready}, new-0 (offset 0) answers {item.status_code}"
            ) from None
