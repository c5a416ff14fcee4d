"""Names and settings of the topics that form the contract."""

from __future__ import annotations

from dataclasses import dataclass

PRODUCT_TOPIC = "catalog.product-changes.v1"
DEAD_LETTER_TOPIC = "catalog.product-changes.dead-letter.v1"
# Records of the product topic the projector could not apply (undecodable, or refused by the
# store): kept with their raw bytes, source position and reason, so the views move on.
PROJECTOR_DEAD_LETTER_TOPIC = "catalog.product-changes.projector-dead-letter.v1"

DAY_MS = 24 * 60 * 60 * 1000
MAX_MESSAGE_BYTES = 1_048_588  # Kafka's default for a topic


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]


def min_insync_for(replication_factor: int) -> int:
    """acks=all means "on two brokers" whenever there are two replicas (one on a lone broker).

    With 2 replicas this stops writes (503; the platform retries) while either broker is down,
    rather than acknowledging a postback that one broker alone holds: an acknowledged postback
    is kept. With 3 or more, one broker can be down and writes go on.
    """
    return min(replication_factor, 2)


def product_topic(
    name: str = PRODUCT_TOPIC, partitions: int = 6, replication_factor: int = 1
) -> TopicSpec:
    """The compacted product topic.

    - every event stays readable for at least 7 days before compaction may drop a superseded
      version (`min.compaction.lag.ms`), so a consumer down for under a week misses nothing;
    - a tombstone stays readable 7 days after compaction reaches it (`delete.retention.ms`), so
      such a consumer still sees the removal;
    - segments roll daily (`segment.ms`): compaction only rewrites closed segments.
    """
    return TopicSpec(
        name=name,
        partitions=partitions,
        replication_factor=replication_factor,
        configs={
            "cleanup.policy": "compact",
            "min.insync.replicas": str(min_insync_for(replication_factor)),
            "min.compaction.lag.ms": str(7 * DAY_MS),
            "delete.retention.ms": str(7 * DAY_MS),
            "segment.ms": str(DAY_MS),
            "message.timestamp.type": "CreateTime",
        },
    )


def dead_letter_topic(
    name: str = DEAD_LETTER_TOPIC, partitions: int = 1, replication_factor: int = 1
) -> TopicSpec:
    """Rejected postbacks, kept 30 days (time-based retention: nothing here is superseded).

    `max.message.bytes` is Kafka's default, stated because dead-letter values are sized to fit it
    (`dead_letters.VALUE_LIMIT`)."""
    return TopicSpec(
        name=name,
        partitions=partitions,
        replication_factor=replication_factor,
        configs={
            "cleanup.policy": "delete",
            "retention.ms": str(30 * DAY_MS),
            "min.insync.replicas": str(min_insync_for(replication_factor)),
            "max.message.bytes": str(MAX_MESSAGE_BYTES),
        },
    )


def projector_dead_letter_topic(
    name: str = PROJECTOR_DEAD_LETTER_TOPIC, partitions: int = 1, replication_factor: int = 1
) -> TopicSpec:
    """Records the projector could not apply, kept 30 days like the refused postbacks."""
    return dead_letter_topic(name, partitions, replication_factor)


def contract_topics(partitions: int = 6, replication_factor: int = 1) -> list[TopicSpec]:
    """Every topic the system needs, as `catalog-stream topics ensure` creates them."""
    return [
        product_topic(partitions=partitions, replication_factor=replication_factor),
        dead_letter_topic(replication_factor=replication_factor),
        projector_dead_letter_topic(replication_factor=replication_factor),
    ]
