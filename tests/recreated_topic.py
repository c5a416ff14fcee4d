"""Helpers of the broker tests of a product topic deleted and created again under the projector
(test_projector_topic_recreated*.py, test_attack33_recreated_in_window.py)."""

from __future__ import annotations

from pathlib import Path

import httpx
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from catalog_contract import topics as contract_topics
from catalog_stream.topic_admin import ensure_all
from projector.settings import ProjectorSettings
from projector.topic_behind import BEHIND_CONFIRM_S
from tests.support import Topics, eventually, projector_settings


async def recreated_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    """`topic` deleted, then created again as the project creates it (once Kafka let go of it),
    with `partitions`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        await eventually(lambda: gone(admin, topic), timeout_s=30)
    finally:
        await admin.close()

    async def created() -> bool:
        try:
            await ensure_all(
                bootstrap, [contract_topics.product_topic(topic, partitions=partitions)]
            )
        except Exception:  # (still being deleted: TopicExists, or its wrapper)
            return False
        return True

    await eventually(created, timeout_s=30, every_s=0.5)


async def gone(admin: AIOKafkaAdminClient, topic: str) -> bool:
    try:
        return topic not in await admin.list_topics()
    except KafkaError:
        return False


async def readiness(projector: httpx.AsyncClient) -> httpx.Response:
    return await projector.get("/readyz")


def quick_metadata_settings(bootstrap: str, topics: Topics, tmp_path: Path) -> ProjectorSettings:
    """The projector's, asking Kafka for the topic's partitions every half second (a topic
    recreated is seen at once)."""
    return projector_settings(bootstrap, topics, tmp_path / "v.db", metadata_max_age_ms=500)


async def said_behind(projector: httpx.AsyncClient, saying: str) -> httpx.Response:
    """/readyz, once it answers 503 saying `saying` (it says 503 "catching up" while the topic
    is gone), within the confirmation and the metadata refresh, with room for a loaded machine."""

    async def said() -> httpx.Response | None:
        answer = await readiness(projector)
        return answer if answer.status_code == 503 and saying in answer.text else None

    answer: httpx.Response = await eventually(said, timeout_s=BEHIND_CONFIRM_S + 40, every_s=0.5)
    return answer
