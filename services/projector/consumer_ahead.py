"""The next batch of the consumer loop: fetched, and being planned on the planning thread while
the batch before it is written (projector/consumer.py)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from projector.batch import BatchPlan


@dataclass(frozen=True)
class Ahead:
    """A fetched batch and its plan, being made on the planning thread."""

    messages: list[Any]
    plan: asyncio.Future[BatchPlan]

    async def dropped(self) -> None:
        """Not to be written (the batch before it failed): let its planning end, quietly."""
        with contextlib.suppress(Exception):
            await self.plan


def in_order(batches: dict[TopicPartition, list[Any]]) -> list[Any]:
    return [m for tp in sorted(batches, key=lambda t: t.partition) for m in batches[tp]]


# While the live views lag by at least this many batches, a batch takes this many times
# batch_max_records (4: RSS +30 MiB on a 1,000-record batch setting, flat in product count).
CATCHUP_FACTOR = 4


def batch_records(most: int, lag: int, factor: int) -> int:
    """How many records the next batch may take: `most` (batch_max_records), or `factor` times
    that while the views lag by at least that many records (a catch-up: fewer, bigger
    transactions, each with its fixed costs: read-back queries, position checks, catalog
    counts, the commit, the thread hops; measured 1.2-1.4x the catch-up rate on 200,000
    events, bench.projector_catchup_ab). Within that lag a batch is what was fetched, as
    before, so a caught-up projector's batches (its freshness) do not change."""
    catch_up = most * factor
    return catch_up if lag >= catch_up else most
