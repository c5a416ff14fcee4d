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
